CREATE TABLE "crm"."categories" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"color" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "crm"."contact_group_points" (
	"organization_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"group_id" uuid NOT NULL,
	"points" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "contact_group_points_pkey" PRIMARY KEY("contact_id","group_id")
);
--> statement-breakpoint
CREATE TABLE "crm"."point_groups" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "crm"."point_trigger_fires" (
	"organization_id" uuid NOT NULL,
	"trigger_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"fires" integer DEFAULT 1 NOT NULL,
	"last_fired_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "point_trigger_fires_pkey" PRIMARY KEY("trigger_id","contact_id")
);
--> statement-breakpoint
CREATE TABLE "crm"."point_triggers" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"group_id" uuid,
	"threshold" integer NOT NULL,
	"action" jsonb NOT NULL,
	"repeat" boolean DEFAULT false NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "crm"."stage_changes" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"from_stage_id" uuid,
	"to_stage_id" uuid,
	"reason" text NOT NULL,
	"actor" text,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "crm"."point_rules" ADD COLUMN "group_id" uuid;--> statement-breakpoint
ALTER TABLE "crm"."point_rules" ADD COLUMN "subject" text;--> statement-breakpoint
ALTER TABLE "crm"."point_rules" ADD COLUMN "property_name" text;--> statement-breakpoint
ALTER TABLE "crm"."point_rules" ADD COLUMN "property_value" text;--> statement-breakpoint
ALTER TABLE "crm"."segments" ADD COLUMN "category_id" uuid;--> statement-breakpoint
ALTER TABLE "crm"."contact_group_points" ADD CONSTRAINT "contact_group_points_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "crm"."contacts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "crm"."contact_group_points" ADD CONSTRAINT "contact_group_points_group_id_point_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "crm"."point_groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "crm"."point_trigger_fires" ADD CONSTRAINT "point_trigger_fires_trigger_id_point_triggers_id_fk" FOREIGN KEY ("trigger_id") REFERENCES "crm"."point_triggers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "crm"."point_trigger_fires" ADD CONSTRAINT "point_trigger_fires_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "crm"."contacts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "crm"."point_triggers" ADD CONSTRAINT "point_triggers_group_id_point_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "crm"."point_groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "crm"."stage_changes" ADD CONSTRAINT "stage_changes_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "crm"."contacts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "categories_name_key" ON "crm"."categories" USING btree ("organization_id","name");--> statement-breakpoint
CREATE INDEX "contact_group_points_group_idx" ON "crm"."contact_group_points" USING btree ("organization_id","group_id","points");--> statement-breakpoint
CREATE UNIQUE INDEX "point_groups_name_key" ON "crm"."point_groups" USING btree ("organization_id","name");--> statement-breakpoint
CREATE INDEX "point_triggers_group_idx" ON "crm"."point_triggers" USING btree ("organization_id","group_id","threshold");--> statement-breakpoint
CREATE INDEX "stage_changes_contact_idx" ON "crm"."stage_changes" USING btree ("organization_id","contact_id","changed_at");--> statement-breakpoint
ALTER TABLE "crm"."point_rules" ADD CONSTRAINT "point_rules_group_id_point_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "crm"."point_groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "crm"."segments" ADD CONSTRAINT "segments_category_id_categories_id_fk" FOREIGN KEY ("category_id") REFERENCES "crm"."categories"("id") ON DELETE set null ON UPDATE no action;