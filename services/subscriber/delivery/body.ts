import { toNative, type DeliveryKind, type WebhookBody } from '../../contract/webhook-body';
import type { ThreatEvent } from '../../contract/model';
import type { SubscriptionConfig } from '../../platform/config/config';
import { toStixBundle } from '../../stix/export';

/** The JSON body of one webhook request: native events, or one STIX 2.1 bundle whose id is the webhook id. */
export function webhookBody(
  subscription: Pick<SubscriptionConfig, 'id' | 'format'>,
  items: readonly { event: ThreatEvent; as: DeliveryKind; sources?: string[] | undefined }[],
  webhookId: string,
): string {
  if (subscription.format === 'stix21') {
    return JSON.stringify(
      toStixBundle(
        items.map((i) => i.event),
        webhookId,
      ),
    );
  }
  const body: WebhookBody = {
    subscription: subscription.id,
    events: items.map((i) => toNative(i.event, i.as, i.sources)),
  };
  return JSON.stringify(body);
}
