CREATE TABLE `metric_chunk_pages` (
	`series_id` integer NOT NULL,
	`page` integer NOT NULL,
	`chunks` integer NOT NULL,
	`data` blob NOT NULL,
	PRIMARY KEY(`series_id`, `page`),
	FOREIGN KEY (`series_id`) REFERENCES `metric_series`(`id`) ON UPDATE no action ON DELETE cascade
);
