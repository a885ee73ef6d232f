ALTER TABLE "api_keys" ADD COLUMN "scopes" text[] DEFAULT '{inference}' NOT NULL;--> statement-breakpoint
ALTER TABLE "model_versions" ADD COLUMN "owner_id" text;--> statement-breakpoint
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "model_versions_owner_idx" ON "model_versions" USING btree ("owner_id");