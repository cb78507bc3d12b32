CREATE TABLE `datasets` (
	`id` integer PRIMARY KEY NOT NULL,
	`dataset_uuid` text NOT NULL,
	`experiment_id` integer NOT NULL,
	`name` text NOT NULL,
	`digest` text NOT NULL,
	`source_type` text NOT NULL,
	`source` text NOT NULL,
	`schema` text,
	`profile` text,
	FOREIGN KEY (`experiment_id`) REFERENCES `experiments`(`experiment_id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `datasets_exp_name_digest` ON `datasets` (`experiment_id`,`name`,`digest`);--> statement-breakpoint
CREATE TABLE `experiment_tags` (
	`experiment_id` integer NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	PRIMARY KEY(`experiment_id`, `key`),
	FOREIGN KEY (`experiment_id`) REFERENCES `experiments`(`experiment_id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `experiments` (
	`experiment_id` integer PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`artifact_location` text NOT NULL,
	`lifecycle_stage` text DEFAULT 'active' NOT NULL,
	`creation_time` integer NOT NULL,
	`last_update_time` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `experiments_name_unique` ON `experiments` (`name`);--> statement-breakpoint
CREATE TABLE `input_tags` (
	`input_id` integer NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	PRIMARY KEY(`input_id`, `key`),
	FOREIGN KEY (`input_id`) REFERENCES `inputs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `inputs` (
	`id` integer PRIMARY KEY NOT NULL,
	`dataset_id` integer NOT NULL,
	`run_id` integer NOT NULL,
	FOREIGN KEY (`dataset_id`) REFERENCES `datasets`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `inputs_run_dataset` ON `inputs` (`run_id`,`dataset_id`);--> statement-breakpoint
CREATE TABLE `metric_chunks` (
	`id` integer PRIMARY KEY NOT NULL,
	`series_id` integer NOT NULL,
	`n` integer NOT NULL,
	`min_step` integer NOT NULL,
	`max_step` integer NOT NULL,
	`min_ts` integer NOT NULL,
	`max_ts` integer NOT NULL,
	`data` blob NOT NULL,
	FOREIGN KEY (`series_id`) REFERENCES `metric_series`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `metric_chunks_series_step` ON `metric_chunks` (`series_id`,`min_step`);--> statement-breakpoint
CREATE TABLE `metric_series` (
	`id` integer PRIMARY KEY NOT NULL,
	`run_id` integer NOT NULL,
	`key` text NOT NULL,
	`value` real,
	`step` integer NOT NULL,
	`timestamp` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	`tail_count` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `metric_series_run_key` ON `metric_series` (`run_id`,`key`);--> statement-breakpoint
CREATE INDEX `metric_series_key_value` ON `metric_series` (`key`,`value`);--> statement-breakpoint
CREATE TABLE `metric_tail` (
	`series_id` integer NOT NULL,
	`step` integer NOT NULL,
	`timestamp` integer NOT NULL,
	`value` real,
	FOREIGN KEY (`series_id`) REFERENCES `metric_series`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `metric_tail_series_step` ON `metric_tail` (`series_id`,`step`);--> statement-breakpoint
CREATE TABLE `params` (
	`run_id` integer NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	PRIMARY KEY(`run_id`, `key`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `params_key_value` ON `params` (`key`,`value`);--> statement-breakpoint
CREATE TABLE `runs` (
	`id` integer PRIMARY KEY NOT NULL,
	`run_uuid` text NOT NULL,
	`name` text DEFAULT '' NOT NULL,
	`experiment_id` integer NOT NULL,
	`user_id` text DEFAULT '' NOT NULL,
	`status` text DEFAULT 'RUNNING' NOT NULL,
	`start_time` integer NOT NULL,
	`end_time` integer,
	`lifecycle_stage` text DEFAULT 'active' NOT NULL,
	`artifact_uri` text NOT NULL,
	`deleted_time` integer,
	FOREIGN KEY (`experiment_id`) REFERENCES `experiments`(`experiment_id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `runs_run_uuid_unique` ON `runs` (`run_uuid`);--> statement-breakpoint
CREATE INDEX `runs_experiment_start` ON `runs` (`experiment_id`,`start_time`);--> statement-breakpoint
CREATE TABLE `tags` (
	`run_id` integer NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	PRIMARY KEY(`run_id`, `key`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `tags_key_value` ON `tags` (`key`,`value`);