CREATE TABLE "moderation_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"user_id" text,
	"api_key_id" text,
	"model" text NOT NULL,
	"version_id" text,
	"policy_id" text,
	"source" text NOT NULL,
	"direction" text NOT NULL,
	"action" text NOT NULL,
	"categories" text[] NOT NULL,
	"reasons" jsonb NOT NULL,
	"excerpt" text NOT NULL,
	"reviewed_at" timestamp with time zone,
	"reviewed_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "safety_policies" (
	"id" text PRIMARY KEY NOT NULL,
	"scope" text NOT NULL,
	"model" text,
	"group_id" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"input_filter" boolean DEFAULT true NOT NULL,
	"output_filter" boolean DEFAULT true NOT NULL,
	"rules" boolean DEFAULT true NOT NULL,
	"classifier" boolean DEFAULT true NOT NULL,
	"threshold" double precision DEFAULT 0.5 NOT NULL,
	"guard_model" text,
	"injection" text DEFAULT 'warn' NOT NULL,
	"custom_rules" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"action" text DEFAULT 'block' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "moderation_events" ADD CONSTRAINT "moderation_events_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "moderation_events_created_idx" ON "moderation_events" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "moderation_events_open_idx" ON "moderation_events" USING btree ("reviewed_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "safety_policies_scope_unique" ON "safety_policies" USING btree ("scope",coalesce("model", ''),coalesce("group_id", ''));