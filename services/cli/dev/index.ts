export { startDevNetwork, LOCAL_BROKER_PORT, type DevNetwork, type DevNetworkOptions } from './network';
export { publishSampleFeed, countDeliveries, waitForDeliveries, type FeedResult } from './feed';
export { describeDelivery, printBanner, summarize } from './print';
export { envName } from './secrets';
export { defaultNetworkFile, networkDescription, writeNetworkFile } from './network-file';
