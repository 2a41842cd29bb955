import { ThreatRelayError } from '../../contract/errors';
import { mapStixBundle, type StixRejection } from '../../stix/import';
import { buildPublishedEvents, type PublishContext } from '../ingest/build-events';
import { checkItemCount, recipientProblems } from './items';
import type { Built } from './publishing';

/**
 * The events of a STIX bundle's indicators that map and name only orgs of
 * the network. `onRejected` is called once per refused object.
 */
export function buildStixEvents(
  orgIds: Set<string>,
  maxItems: number,
  onRejected: (r: StixRejection) => void,
): (body: unknown, ctx: PublishContext) => Built {
  return (body, ctx) => {
    // Counted before mapping, so an oversized bundle is refused without mapping it.
    const mapped = mapStixBundle(body, (count) => {
      if (count > 0) checkItemCount(count, maxItems, 'objects');
    });
    const rejected: StixRejection[] = [...mapped.rejected];
    const accepted = mapped.indicators.filter((m) => {
      const unknown = recipientProblems([m.input], orgIds, false);
      for (const d of unknown) {
        rejected.push({
          index: m.index,
          id: m.id,
          path: `objects.${m.index}.x_threatrelay_${d.path}`,
          code: 'TR_VALIDATION',
          reason: d.message,
          indicatorType: m.input.type,
        });
      }
      return unknown.length === 0;
    });
    rejected.sort((a, b) => a.index - b.index);
    for (const r of new Map(rejected.map((r) => [r.index, r])).values()) onRejected(r);
    if (accepted.length === 0) {
      throw new ThreatRelayError(
        'TR_VALIDATION',
        `no indicator in the bundle can be published: ${rejected.length} problem(s)`,
        {
          details:
            rejected.length > 0
              ? rejected.map((r) => ({ path: r.path, message: `${r.id ?? '(no id)'}: ${r.reason}` }))
              : [{ path: 'objects', message: 'holds no indicator objects' }],
        },
      );
    }
    // Its own eventId name space, so one Idempotency-Key used on both routes
    // cannot give two different indicators the same eventId.
    const stixCtx: PublishContext = {
      ...ctx,
      idempotencyKey: ctx.idempotencyKey === undefined ? undefined : `stix\n${ctx.idempotencyKey}`,
    };
    return {
      events: buildPublishedEvents(
        accepted.map((m) => m.input),
        stixCtx,
        true,
      ),
      valuePath: (index) => `objects.${accepted[index]!.index}.pattern`,
      answer: (receipts) => ({
        accepted: receipts.length,
        receipts: receipts.map((r) => ({ ...r, index: accepted[r.index]!.index, id: accepted[r.index]!.id })),
        rejected: rejected.map(({ index, id, path, code, reason }) => ({ index, id, path, code, reason })),
        ignored: mapped.ignored,
      }),
    };
  };
}
