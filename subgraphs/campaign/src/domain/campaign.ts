// What a campaign is made of, as marketers write it: its channel, variants, audience, schedule,
// throttle, UTM parameters and A/B test. Parsed with zod at the use cases' door.
import { z } from 'zod';

export const CHANNELS = ['email', 'sms', 'push'] as const;
export type Channel = (typeof CHANNELS)[number];

export const VARIANT_KEYS = ['A', 'B', 'C', 'D', 'E'] as const;

export const variant = z.object({
  key: z.enum(VARIANT_KEYS),
  templateId: z.uuid(),
});
export type Variant = z.infer<typeof variant>;

/** Distinct keys; one variant, or 2 to 5 for an A/B test. */
export const variants = z
  .array(variant)
  .min(1)
  .max(5)
  .refine((list) => new Set(list.map((v) => v.key)).size === list.length, 'variant keys must be distinct');

const timeZones = new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);
export const timeZone = z
  .string()
  .refine((zone) => timeZones.has(zone), 'must be an IANA time zone, e.g. Europe/Paris');

/** A wall-clock date and time, read in a zone: "2026-03-29T09:00". */
export const localDateTime = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d$/, 'must be YYYY-MM-DDTHH:MM');

export const throttle = z.object({
  count: z.number().int().min(1).max(10_000_000),
  per: z.enum(['minute', 'hour']),
});
export type Throttle = z.infer<typeof throttle>;

const utmValue = z.string().trim().min(1).max(200);
export const utm = z.object({
  source: utmValue.optional(),
  medium: utmValue.optional(),
  campaign: utmValue.optional(),
  term: utmValue.optional(),
  content: utmValue.optional(),
});
export type Utm = z.infer<typeof utm>;

export const AB_CRITERIA = ['opens', 'clicks', 'conversions'] as const;
export const abTest = z
  .object({
    /** The sample: a share of the audience, or a number of contacts, split evenly among variants. */
    samplePercent: z.number().int().min(1).max(100).optional(),
    sampleCount: z.number().int().min(1).optional(),
    criterion: z.enum(AB_CRITERIA),
    /** For `conversions`: the event type that counts, e.g. a tracked event "order.placed". */
    conversionEvent: z.string().trim().min(1).max(200).optional(),
    /** How long after the sample went out the winner is chosen. */
    windowMinutes: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 60),
  })
  .refine((t) => (t.samplePercent === undefined) !== (t.sampleCount === undefined), 'give samplePercent or sampleCount')
  .refine((t) => t.criterion !== 'conversions' || t.conversionEvent, 'conversions need a conversionEvent');
export type AbTest = z.infer<typeof abTest>;

/** The idempotency key of a recipient's message: delivery makes one message per key. */
export const sendKey = (campaignId: string, contactId: string, variantKey: string) =>
  `campaign:${campaignId}:${contactId}:${variantKey}`;
