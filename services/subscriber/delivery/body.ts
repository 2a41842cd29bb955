import {
  toNative,
  type DeliveryDetail,
  type DeliveryKind,
  type WebhookBody,
} from '../../contract/webhook-body';
import type { ThreatEvent } from '../../contract/model';
import type { SubscriptionConfig } from '../../platform/config/config';
import { toStixBundle } from '../../stix/export';
import type { Warning } from '../../contract/warninglists';

/** The JSON body of one webhook request: native events, or one STIX 2.1 bundle whose id is the webhook id. */
export function webhookBody(
  subscription: Pick<SubscriptionConfig, 'id' | 'format'>,
  items: readonly {
    event: ThreatEvent;
    as: DeliveryKind;
    detail?: DeliveryDetail | undefined;
    /** The warninglists the reader found each published indicator on. */
    warnings?: Warning[] | undefined;
  }[],
  webhookId: string,
): string {
  if (subscription.format === 'stix21') {
    return JSON.stringify(
      toStixBundle(
        items.map((i) => i.event),
        webhookId,
        items.map((i) => i.warnings),
      ),
    );
  }
  const body: WebhookBody = {
    subscription: subscription.id,
    events: items.map((i) => toNative(i.event, i.as, i.detail, i.warnings)),
  };
  return JSON.stringify(body);
}
