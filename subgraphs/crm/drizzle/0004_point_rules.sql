CREATE TABLE "crm"."point_rules" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"event_type" text NOT NULL,
	"custom_name" text,
	"delta" integer NOT NULL,
	"max_per_contact" integer,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "point_rules_trigger_idx" ON "crm"."point_rules" USING btree ("organization_id","event_type");