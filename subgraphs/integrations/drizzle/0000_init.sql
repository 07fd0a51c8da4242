CREATE SCHEMA "integrations";
--> statement-breakpoint
CREATE TABLE "integrations"."outbox" (
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
CREATE TABLE "integrations"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_pkey" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "integrations"."received_messages" (
	"source_id" uuid NOT NULL,
	"message_id" text NOT NULL,
	"organization_id" uuid NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "received_messages_pkey" PRIMARY KEY("source_id","message_id")
);
--> statement-breakpoint
CREATE TABLE "integrations"."sources" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"write_key_hash" text NOT NULL,
	"write_key_prefix" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "integrations"."received_messages" ADD CONSTRAINT "received_messages_source_id_sources_id_fk" FOREIGN KEY ("source_id") REFERENCES "integrations"."sources"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "outbox_id_key" ON "integrations"."outbox" USING btree ("id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "integrations"."outbox" USING btree ("seq") WHERE published_at is null;--> statement-breakpoint
CREATE INDEX "received_messages_organization_idx" ON "integrations"."received_messages" USING btree ("organization_id","received_at");--> statement-breakpoint
CREATE UNIQUE INDEX "sources_write_key_hash_key" ON "integrations"."sources" USING btree ("write_key_hash");--> statement-breakpoint
CREATE INDEX "sources_organization_idx" ON "integrations"."sources" USING btree ("organization_id","id");