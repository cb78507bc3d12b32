DROP INDEX `metric_series_key_value`;--> statement-breakpoint
CREATE INDEX `metric_series_key_value_run` ON `metric_series` (`key`,`value`,`run_id`);--> statement-breakpoint
DROP INDEX `params_key_value`;--> statement-breakpoint
CREATE INDEX `params_key_value_run` ON `params` (`key`,`value`,`run_id`);--> statement-breakpoint
DROP INDEX `tags_key_value`;--> statement-breakpoint
CREATE INDEX `tags_key_value_run` ON `tags` (`key`,`value`,`run_id`);--> statement-breakpoint
CREATE INDEX `runs_name` ON `runs` (`name`);