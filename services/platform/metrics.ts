import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Prometheus registry per service instance (not prom-client's global),
 * so several services in one process — tests, `threatrelay dev` — keep their
 * numbers apart.
 */
export function createRegistry(service: string, withDefaults = true): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (withDefaults) collectDefaultMetrics({ register: registry });
  return registry;
}
