CREATE SCHEMA "campaign";
--> statement-breakpoint
CREATE TABLE "campaign"."campaigns" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"channel" text NOT NULL,
	"status" text DEFAULT 'draft' NOT NULL,
	"variants" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"segment_ids" uuid[] DEFAULT '{}'::uuid[] NOT NULL,
	"excluded_segment_ids" uuid[] DEFAULT '{}'::uuid[] NOT NULL,
	"send_at" timestamp with time zone,
	"local_send_at" text,
	"timezone" text DEFAULT 'UTC' NOT NULL,
	"throttle" jsonb,
	"utm" jsonb,
	"ab_test" jsonb,
	"sample_size" integer,
	"sample_sent_at" timestamp with time zone,
	"scores" jsonb,
	"winner" text,
	"winner_decided_at" timestamp with time zone,
	"recipient_count" integer,
	"materialised_at" timestamp with time zone,
	"launched_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"requested_count" integer DEFAULT 0 NOT NULL,
	"cursor_due_at" timestamp with time zone,
	"cursor_contact_id" uuid,
	"window_started_at" timestamp with time zone,
	"window_count" integer DEFAULT 0 NOT NULL,
	"correlation_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "campaigns_status_check" CHECK (status in ('draft', 'scheduled', 'sending', 'paused', 'completed', 'cancelled')),
	CONSTRAINT "campaigns_channel_check" CHECK (channel in ('email', 'sms', 'push'))
);
--> statement-breakpoint
CREATE TABLE "campaign"."contacts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"timezone" text,
	"dnc" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"deleted" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "campaign"."conversions" (
	"campaign_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"variant" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	CONSTRAINT "conversions_pkey" PRIMARY KEY("campaign_id","contact_id")
);
--> statement-breakpoint
CREATE TABLE "campaign"."outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"topic" text NOT NULL,
	"key" text NOT NULL,
	"type" text NOT NULL,
	"envelope" json NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"claimed_until" timestamp with time zone,
	"published_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "campaign"."outcomes" (
	"campaign_id" uuid NOT NULL,
	"message_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"detail" text DEFAULT '' NOT NULL,
	"organization_id" uuid NOT NULL,
	"variant" text NOT NULL,
	"contact_id" uuid,
	"count" integer DEFAULT 1 NOT NULL,
	"first_at" timestamp with time zone NOT NULL,
	CONSTRAINT "outcomes_pkey" PRIMARY KEY("campaign_id","message_id","kind","detail")
);
--> statement-breakpoint
CREATE TABLE "campaign"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_pkey" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "campaign"."recipients" (
	"campaign_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"variant" text,
	"due_at" timestamp with time zone NOT NULL,
	"requested_at" timestamp with time zone,
	CONSTRAINT "recipients_pkey" PRIMARY KEY("campaign_id","contact_id")
);
--> statement-breakpoint
CREATE TABLE "campaign"."segment_memberships" (
	"organization_id" uuid NOT NULL,
	"segment_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	CONSTRAINT "segment_memberships_pkey" PRIMARY KEY("contact_id","segment_id")
);
--> statement-breakpoint
CREATE INDEX "campaigns_organization_idx" ON "campaign"."campaigns" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "campaigns_active_idx" ON "campaign"."campaigns" USING btree ("status") WHERE status in ('scheduled', 'sending');--> statement-breakpoint
CREATE INDEX "contacts_organization_idx" ON "campaign"."contacts" USING btree ("organization_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "outbox_id_key" ON "campaign"."outbox" USING btree ("id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "campaign"."outbox" USING btree ("seq") WHERE published_at is null;--> statement-breakpoint
CREATE INDEX "recipients_fanout_idx" ON "campaign"."recipients" USING btree ("campaign_id","due_at","contact_id");--> statement-breakpoint
CREATE INDEX "segment_memberships_segment_idx" ON "campaign"."segment_memberships" USING btree ("organization_id","segment_id","contact_id");