import { ThreatRelayError } from '../contract/errors';
import type { Tlp } from '../contract/model';
import { STANDARD_TLP, tlpDefinedBy } from './markings';
import { isRecord } from '../platform/json';
import { isStixObject, type StixObject } from './object';

const BUNDLE_ID = /^bundle--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function notABundle(path: string, message: string): never {
  throw new ThreatRelayError('TR_VALIDATION', 'the body is not a STIX bundle', {
    details: [{ path, message }],
  });
}

/** The bundle's objects; raises TR_VALIDATION, its one detail saying where, when the body is not a bundle. */
export function bundleObjects(body: unknown): unknown[] {
  if (!isRecord(body) || body.type !== 'bundle') {
    notABundle('type', 'must be a STIX bundle: {"type": "bundle", "id": "bundle--…", "objects": […]}');
  }
  if (typeof body.id !== 'string' || !BUNDLE_ID.test(body.id)) {
    notABundle('id', 'must be "bundle--" followed by a UUID');
  }
  if (body.objects === undefined) return [];
  if (!Array.isArray(body.objects)) notABundle('objects', 'must be an array of STIX objects');
  return body.objects;
}

/** Lookups over a bundle's context objects, built once per bundle. */
export interface BundleContext {
  byId: Map<string, StixObject>;
  /** TLP of each marking-definition id: the standard ones and TLP markings defined in the bundle. */
  tlpOf: Map<string, Tlp>;
  /** `indicates` relationships by their source indicator id. */
  indicates: Map<string, StixObject[]>;
}

function isIndicates(o: StixObject): o is StixObject & { source_ref: string } {
  return o.type === 'relationship' && o.relationship_type === 'indicates' && typeof o.source_ref === 'string';
}

export function bundleContext(objects: unknown[]): BundleContext {
  const byId = new Map<string, StixObject>();
  const tlpOf = new Map(STANDARD_TLP);
  const indicates = new Map<string, StixObject[]>();
  for (const o of objects) {
    if (!isStixObject(o) || typeof o.id !== 'string') continue;
    if (!byId.has(o.id)) byId.set(o.id, o);
    // Publishers with their own TLP marking objects (MISP exports, older
    // tools) are authoritative on their own markings; a standard id keeps
    // its standard meaning whatever a bundle redefines it as.
    if (o.type === 'marking-definition' && !STANDARD_TLP.has(o.id)) {
      const tlp = tlpDefinedBy(o);
      if (tlp) tlpOf.set(o.id, tlp);
    }
    if (isIndicates(o)) {
      const list = indicates.get(o.source_ref);
      if (list) list.push(o);
      else indicates.set(o.source_ref, [o]);
    }
  }
  return { byId, tlpOf, indicates };
}

/** The objects an indicator `indicates` (campaigns, malware, …) that the bundle holds. */
export function targetsOf(indicatorId: unknown, ctx: BundleContext): StixObject[] {
  const relationships = typeof indicatorId === 'string' ? (ctx.indicates.get(indicatorId) ?? []) : [];
  return relationships
    .map((r) => (typeof r.target_ref === 'string' ? ctx.byId.get(r.target_ref) : undefined))
    .filter((t): t is StixObject => t !== undefined);
}

/**
 * The ids of the context objects the given indicators are read with (their
 * markings, `indicates` relationships and those relationships' targets), so
 * a client that splits a bundle into chunks can send each chunk with what its
 * indicators need.
 */
export function contextObjectIds(indicators: Record<string, unknown>[], objects: unknown[]): Set<string> {
  const ctx = bundleContext(objects);
  const ids = new Set<string>();
  for (const ind of indicators) {
    for (const ref of Array.isArray(ind.object_marking_refs) ? ind.object_marking_refs : []) {
      if (typeof ref === 'string' && ctx.byId.has(ref)) ids.add(ref);
    }
    for (const rel of typeof ind.id === 'string' ? (ctx.indicates.get(ind.id) ?? []) : []) {
      ids.add(rel.id as string);
      if (typeof rel.target_ref === 'string' && ctx.byId.has(rel.target_ref)) ids.add(rel.target_ref);
    }
  }
  return ids;
}
