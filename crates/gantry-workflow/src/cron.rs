//! Cron schedules (`on.schedule[].cron`): parsing and validation.
