import type { DeliveryKind } from '../contract/webhook-body';

/**
 * The sample feed `threatrelay dev` publishes: one morning of election-season
 * reports from the four demo companies, chosen so that each thing the bus
 * does shows up once in the receiver's output. The domain and the phishing
 * URL are reported in different spellings on purpose: canonicalization is
 * what makes them one indicator, and dedup what makes them one delivery.
 */

export interface FeedStep {
  org: string;
  route: '/v1/indicators' | '/v1/indicators/revoke';
  /** One line printed before the step, for the newcomer reading the output. */
  note: string;
  items: Record<string, unknown>[];
}

/** The same Spanish-language results site, in each company's own spelling. */
const DOMAIN_SPELLINGS: Record<string, string> = {
  facebook: 'votación-resultados[.]com',
  google: 'VOTACIÓN-RESULTADOS.COM',
  microsoft: 'xn--votacin-resultados-v1b.com',
  twitter: 'votación-resultados.com.',
};

const domainReport = (org: string): Record<string, unknown> => ({
  type: 'domain',
  value: DOMAIN_SPELLINGS[org],
  category: 'disinformation',
  tlp: 'green',
  confidence: 85,
  severity: 'high',
  campaign: 'fake-early-results-2026',
  tags: ['election', 'spanish-language'],
  description: 'Publishes fabricated early results before polls close.',
});

export const SAMPLE_FEED: FeedStep[] = [
  {
    org: 'facebook',
    route: '/v1/indicators',
    note: 'the results site (defanged), a phishing URL, and a TLP:RED account for the FBI only',
    items: [
      domainReport('facebook'),
      {
        type: 'url',
        value: 'hxxps://verify-voter-status[.]info/%7Eregistration/login?state=GA',
        category: 'phishing',
        tlp: 'clear',
        confidence: 95,
        severity: 'critical',
        description: 'Asks voters to "confirm" their registration; harvests SSNs.',
      },
      {
        type: 'social_account',
        value: 'patriot.precinct.watch',
        platform: 'facebook',
        category: 'influence_operation',
        tlp: 'red',
        recipients: ['fbi'],
        confidence: 75,
        severity: 'high',
        description: 'Administrator of a page network run from abroad; open investigation.',
      },
    ],
  },
  {
    org: 'google',
    route: '/v1/indicators',
    note: 'the same site (uppercase), the same phishing URL spelled differently, a deepfake video frame',
    items: [
      domainReport('google'),
      {
        type: 'url',
        value: 'https://Verify-Voter-Status.INFO/~registration/login?state=GA',
        category: 'phishing',
        tlp: 'clear',
        confidence: 90,
      },
      {
        type: 'pdq',
        value: 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22',
        category: 'manipulated_media',
        tlp: 'green',
        confidence: 80,
        severity: 'high',
        description: 'PDQ of a key frame of a deepfake video of a county clerk "closing" polling places.',
        tags: ['deepfake', 'video'],
      },
    ],
  },
  {
    org: 'microsoft',
    route: '/v1/indicators',
    note: 'the same site (punycode), and a phishing URL of its own',
    items: [
      domainReport('microsoft'),
      {
        type: 'url',
        value: 'hxxps://login-voterportal-microsoftonline[.]com/common/oauth2/authorize',
        category: 'phishing',
        tlp: 'green',
        confidence: 90,
        severity: 'high',
      },
    ],
  },
  {
    org: 'twitter',
    route: '/v1/indicators',
    note: 'the same site (trailing dot), and two accounts of a coordinated network',
    items: [
      domainReport('twitter'),
      {
        type: 'social_account',
        value: '@PrecinctWatch_Bot',
        platform: 'twitter',
        category: 'coordinated_inauthentic_behavior',
        tlp: 'amber',
        confidence: 80,
      },
      {
        type: 'social_account',
        value: '@BallotTruthDaily',
        platform: 'twitter',
        category: 'coordinated_inauthentic_behavior',
        tlp: 'amber',
        confidence: 60,
      },
    ],
  },
  {
    org: 'twitter',
    route: '/v1/indicators/revoke',
    note: 'withdraws @BallotTruthDaily as a false positive',
    items: [
      {
        type: 'social_account',
        value: '@BallotTruthDaily',
        platform: 'twitter',
        tlp: 'amber',
        reason: 'False positive: a real local news account, not part of the network.',
      },
    ],
  },
];

export type DeliveryCounts = Partial<Record<DeliveryKind, number>>;

/**
 * What the demo network's subscriptions receive from the feed. The dev
 * command waits for these before printing its summary, so it belongs next to
 * the feed: change one, change the other.
 */
export const SAMPLE_FEED_EXPECTED: Record<string, DeliveryCounts> = {
  // Six indicators; the site three times and the phishing URL once more as corroborations.
  'dhs-all': { 'indicator.published': 6, 'indicator.corroborated': 4, 'indicator.revoked': 1 },
  // The same six plus the TLP:RED account named for it; corroborations are off.
  'fbi-all': { 'indicator.published': 7, 'indicator.revoked': 1 },
  // As STIX indicator objects; the revocation is the same object with revoked: true.
  'odni-stix': { 'indicator.published': 6, 'indicator.revoked': 1 },
  // Phishing from the other companies: facebook's URL (google's is the same one again).
  'microsoft-phishing': { 'indicator.published': 1 },
};
