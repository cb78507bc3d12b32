CREATE TABLE `sweep_trials` (
	`id` integer PRIMARY KEY NOT NULL,
	`sweep_id` integer NOT NULL,
	`number` integer NOT NULL,
	`run_id` integer NOT NULL,
	`params` text NOT NULL,
	`grid_index` integer,
	`status` text DEFAULT 'RUNNING' NOT NULL,
	`timed_out` integer DEFAULT false NOT NULL,
	`stop_reason` text,
	`worker` text DEFAULT '' NOT NULL,
	`request_id` text,
	`start_time` integer NOT NULL,
	`end_time` integer,
	`heartbeat_time` integer NOT NULL,
	FOREIGN KEY (`sweep_id`) REFERENCES `sweeps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sweep_trials_number` ON `sweep_trials` (`sweep_id`,`number`);--> statement-breakpoint
CREATE UNIQUE INDEX `sweep_trials_grid_point` ON `sweep_trials` (`sweep_id`,`grid_index`) WHERE grid_index IS NOT NULL AND timed_out = 0;--> statement-breakpoint
CREATE UNIQUE INDEX `sweep_trials_run` ON `sweep_trials` (`run_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `sweep_trials_request` ON `sweep_trials` (`sweep_id`,`request_id`) WHERE request_id IS NOT NULL;--> statement-breakpoint
CREATE TABLE `sweeps` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`experiment_id` integer NOT NULL,
	`name` text NOT NULL,
	`method` text NOT NULL,
	`config` text NOT NULL,
	`status` text DEFAULT 'RUNNING' NOT NULL,
	`parent_run_id` integer,
	`creation_time` integer NOT NULL,
	`last_update_time` integer NOT NULL,
	FOREIGN KEY (`experiment_id`) REFERENCES `experiments`(`experiment_id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`parent_run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sweeps_experiment_name` ON `sweeps` (`experiment_id`,`name`);--> statement-breakpoint
CREATE INDEX `sweeps_parent_run` ON `sweeps` (`parent_run_id`);