DROP INDEX "crm"."contacts_fields_idx";--> statement-breakpoint
CREATE INDEX "contacts_fields_idx" ON "crm"."contacts" USING gin ("fields" jsonb_path_ops);