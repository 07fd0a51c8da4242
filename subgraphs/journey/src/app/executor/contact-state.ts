// The contact a run walks with: the journey context's copy of it, as a mutable value for the
// walk, so a condition after an update contact or segment step sees the change it asked for.
import type { DncChannel } from '../../domain/definition.ts';
import type { FilterSubject } from './contact-filter.ts';
import type { ContactRow } from './run-state.ts';

export interface ContactState extends FilterSubject {
  /** False when the journey context has no copy of the contact (yet). */
  known: boolean;
  deleted: boolean;
  timezone: string | null;
  tags: string[];
  dnc: Partial<Record<DncChannel, string | null>>;
  segments: Set<string>;
  /** Applies an update contact step's changes. */
  apply(change: ContactChange): void;
}

export interface ContactChange {
  set?: Record<string, unknown>;
  addTags?: string[];
  removeTags?: string[];
  points?: number;
  stageId?: string | null;
  ownerId?: string | null;
  dnc?: { channel: DncChannel; value: boolean };
}

const STANDARD: Record<string, keyof ContactRow> = {
  email: 'email',
  firstName: 'firstName',
  lastName: 'lastName',
  phone: 'phone',
  timezone: 'timezone',
  locale: 'locale',
  points: 'points',
  createdAt: 'createdAt',
  updatedAt: 'updatedAt',
  owner: 'ownerId',
  ownerId: 'ownerId',
  stage: 'stageId',
  stageId: 'stageId',
};

export function contactState(row: ContactRow | undefined, segments: Iterable<string>): ContactState {
  const standard: Record<string, unknown> = {};
  for (const [name, column] of Object.entries(STANDARD)) {
    const value = row?.[column];
    standard[name] = value instanceof Date ? value.toISOString() : (value ?? null);
  }
  if (!row) standard.points = 0;
  const fields: Record<string, unknown> = { ...(row?.fields ?? {}) };
  const state: ContactState = {
    known: Boolean(row),
    deleted: row?.deleted ?? false,
    timezone: row?.timezone ?? null,
    tags: [...(row?.tags ?? [])],
    dnc: { ...(row?.dnc ?? {}) },
    segments: new Set(segments),
    value: (field) => (field.startsWith('fields.') ? fields[field.slice(7)] : standard[field]),
    apply: (change) => {
      for (const [name, value] of Object.entries(change.set ?? {})) {
        if (name.startsWith('fields.')) fields[name.slice(7)] = value;
        else standard[name] = value;
        if (name === 'timezone') state.timezone = typeof value === 'string' ? value : null;
      }
      const removed = new Set(change.removeTags ?? []);
      state.tags = [...new Set([...state.tags, ...(change.addTags ?? [])])].filter((t) => !removed.has(t));
      if (change.points) standard.points = Number(standard.points ?? 0) + change.points;
      if (change.stageId !== undefined) standard.stage = standard.stageId = change.stageId;
      if (change.ownerId !== undefined) standard.owner = standard.ownerId = change.ownerId;
      if (change.dnc) {
        if (change.dnc.value) state.dnc[change.dnc.channel] = 'manual';
        else delete state.dnc[change.dnc.channel];
      }
    },
  };
  return state;
}
