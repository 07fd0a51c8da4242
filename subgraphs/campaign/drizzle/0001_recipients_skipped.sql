ALTER TABLE "campaign"."campaigns" ADD COLUMN "skipped_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "campaign"."recipients" ADD COLUMN "skipped_at" timestamp with time zone;