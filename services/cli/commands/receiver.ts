import { isStixBundle, startDemoReceiver } from '../../receiver/receiver';
import { command, listenHost, runUntilSignal } from '../context';
import { printable } from '../printable';

export const receiver = command({
  name: 'receiver',
  usage:
    "receiver --config FILE [--port N]   demo webhook receiver: verifies and prints each subscription's deliveries",
  async run({ values, needConfig }) {
    const config = needConfig({ role: 'receiver' });
    const running = await startDemoReceiver({
      port: Number(values.port ?? 9000),
      host: listenHost(),
      secrets: Object.fromEntries(config.subscriptions.map((s) => [s.id, s.webhook.secrets[0]!])),
      onDelivery: (d) =>
        // A native body lists its events; a STIX 2.1 one is logged whole (its indicator objects).
        console.log(
          printable(
            JSON.stringify({
              subscription: d.subscription,
              webhookId: d.webhookId,
              ...(isStixBundle(d.body) ? { bundle: d.body } : { events: d.body.events }),
            }),
          ),
        ),
      onRejected: (sub, reason) => console.error(printable(`rejected a request for ${sub}: ${reason}`)),
    });
    console.error(`demo receiver listening on ${running.url}/hooks/<subscription>`);
    await runUntilSignal(() => running.close());
  },
});
