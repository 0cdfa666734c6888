//! POSIX cron expressions as GitHub's `on.schedule[].cron` accepts them.
//!
//! Five fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or `JAN`-`DEC`),
//! day of week (0-6 or `SUN`-`SAT`). Each field is a comma list of `*`, `N`, `A-B`, each
//! optionally followed by `/STEP` (`N/STEP` means from N to the field's maximum). Names are
//! case-insensitive. There is no seconds field. As in POSIX cron, when both day fields are
//! restricted (neither starts with `*`) a day matches if *either* matches.
//! Times are UTC. GitHub runs schedules at most every 5 minutes: see [`Cron::warnings`].

use thiserror::Error;

/// The five cron fields, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronField {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

const FIELDS: [CronField; 5] = [
    CronField::Minute,
    CronField::Hour,
    CronField::DayOfMonth,
    CronField::Month,
    CronField::DayOfWeek,
];

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl CronField {
    pub fn name(self) -> &'static str {
        match self {
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day of month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day of week",
        }
    }

    /// Inclusive bounds of the field's values.
    pub fn bounds(self) -> (u8, u8) {
        match self {
            CronField::Minute => (0, 59),
            CronField::Hour => (0, 23),
            CronField::DayOfMonth => (1, 31),
            CronField::Month => (1, 12),
            CronField::DayOfWeek => (0, 6),
        }
    }

    fn value_of_name(self, text: &str) -> Option<u8> {
        let names: &[&str] = match self {
            CronField::Month => &MONTHS,
            CronField::DayOfWeek => &WEEKDAYS,
            _ => return None,
        };
        let index = names.iter().position(|n| n.eq_ignore_ascii_case(text))?;
        let first = if self == CronField::Month { 1 } else { 0 };
        u8::try_from(index).ok().map(|i| i + first)
    }
}

impl std::fmt::Display for CronField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a cron expression is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CronErrorKind {
    #[error("expected 5 fields (minute hour day-of-month month day-of-week), found {0}")]
    FieldCount(usize),
    #[error("empty list item")]
    EmptyItem,
    #[error("'{0}' is not a valid value")]
    InvalidValue(String),
    #[error("{value} is out of range {min}-{max}")]
    OutOfRange { value: u32, min: u8, max: u8 },
    #[error("range {start}-{end} is reversed")]
    ReversedRange { start: u8, end: u8 },
    #[error("'{0}' is not a valid step; expected a positive number")]
    InvalidStep(String),
}

/// An invalid cron expression: `position` is the byte offset of the offending text in the
/// expression, `field` the field it belongs to (none for a wrong field count).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid cron expression at character {position}{}: {kind}", field.map(|f| format!(" ({f} field)")).unwrap_or_default())]
pub struct CronError {
    pub position: usize,
    pub field: Option<CronField>,
    pub kind: CronErrorKind,
}

/// Something GitHub accepts but will not honour as written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CronWarning {
    #[error(
        "the schedule runs every {0} minute(s), but GitHub runs scheduled workflows at most once every 5 minutes"
    )]
    IntervalTooShort(u32),
}

/// A UTC wall-clock time to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcMinute {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
}

impl UtcMinute {
    /// The minute containing the unix timestamp `seconds`.
    pub fn from_unix(seconds: i64) -> UtcMinute {
        let days = seconds.div_euclid(86_400);
        let secs = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        // `secs` < 86400, so the hour and minute fit in u8.
        UtcMinute {
            year,
            month,
            day,
            hour: (secs / 3600) as u8,
            minute: (secs % 3600 / 60) as u8,
        }
    }

    /// Seconds since the unix epoch at the start of this minute.
    pub fn to_unix(self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        days * 86_400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60
    }

    /// 0 = Sunday.
    pub fn weekday(self) -> u8 {
        weekday_of(days_from_civil(self.year, self.month, self.day))
    }
}

/// A parsed schedule. Each field is a bit set of allowed values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    source: String,
    sets: [u64; 5],
    /// Whether each day field starts with `*`, which switches POSIX's either-day rule off.
    dom_star: bool,
    dow_star: bool,
}

impl Cron {
    /// Parses an expression, returning its first error; [`Cron::validate`] returns all.
    pub fn parse(source: &str) -> Result<Cron, CronError> {
        let (cron, mut errors) = compile(source);
        if errors.is_empty() {
            Ok(cron)
        } else {
            Err(errors.swap_remove(0))
        }
    }

    /// Every error in `source` (empty when valid).
    pub fn validate(source: &str) -> Vec<CronError> {
        compile(source).1
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the schedule fires at `t`.
    pub fn matches(&self, t: UtcMinute) -> bool {
        self.day_matches(days_from_civil(t.year, t.month, t.day), t.month, t.day)
            && self.has(CronField::Hour, t.hour)
            && self.has(CronField::Minute, t.minute)
    }

    /// The first firing strictly after `t`, or `None` if the schedule never fires (e.g.
    /// `0 0 30 2 *`). Searches one 400-year Gregorian cycle, after which dates repeat.
    pub fn next_after(&self, t: UtcMinute) -> Option<UtcMinute> {
        let start = UtcMinute::from_unix(t.to_unix() + 60);
        let first_day = days_from_civil(start.year, start.month, start.day);
        (first_day..first_day + 146_097).find_map(|day| {
            let (year, month, dom) = civil_from_days(day);
            if !self.day_matches(day, month, dom) {
                return None;
            }
            let from = if day == first_day {
                (start.hour, start.minute)
            } else {
                (0, 0)
            };
            let (hour, minute) = self.first_time_from(from)?;
            Some(UtcMinute {
                year,
                month,
                day: dom,
                hour,
                minute,
            })
        })
    }

    /// [`Cron::next_after`] on unix timestamps (seconds).
    pub fn next_after_unix(&self, seconds: i64) -> Option<i64> {
        self.next_after(UtcMinute::from_unix(seconds))
            .map(UtcMinute::to_unix)
    }

    /// The shortest gap in minutes between two firings on the same or consecutive days.
    pub fn min_interval_minutes(&self) -> u32 {
        let times: Vec<u32> = (0..24u8)
            .filter(|h| self.has(CronField::Hour, *h))
            .flat_map(|h| {
                (0..60u8)
                    .filter(|m| self.has(CronField::Minute, *m))
                    .map(move |m| u32::from(h) * 60 + u32::from(m))
            })
            .collect();
        let within_day = times.windows(2).map(|w| w[1] - w[0]).min();
        // Across midnight, as if the next day also fires (true for most schedules).
        let across = times
            .first()
            .zip(times.last())
            .map(|(first, last)| 1440 - last + first);
        within_day.into_iter().chain(across).min().unwrap_or(1440)
    }

    /// Accepted but questionable schedules.
    pub fn warnings(&self) -> Vec<CronWarning> {
        let interval = self.min_interval_minutes();
        if interval < 5 {
            vec![CronWarning::IntervalTooShort(interval)]
        } else {
            Vec::new()
        }
    }

    fn has(&self, field: CronField, value: u8) -> bool {
        self.sets[field as usize] & (1u64 << value) != 0
    }

    fn day_matches(&self, days: i64, month: u8, dom: u8) -> bool {
        if !self.has(CronField::Month, month) {
            return false;
        }
        let by_dom = self.has(CronField::DayOfMonth, dom);
        let by_dow = self.has(CronField::DayOfWeek, weekday_of(days));
        if self.dom_star || self.dow_star {
            by_dom && by_dow
        } else {
            by_dom || by_dow
        }
    }

    fn first_time_from(&self, (hour, minute): (u8, u8)) -> Option<(u8, u8)> {
        (hour..24)
            .filter(|h| self.has(CronField::Hour, *h))
            .find_map(|h| {
                let from = if h == hour { minute } else { 0 };
                (from..60)
                    .find(|m| self.has(CronField::Minute, *m))
                    .map(|m| (h, m))
            })
    }
}

impl std::str::FromStr for Cron {
    type Err = CronError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cron::parse(s)
    }
}

/// Splits on whitespace, keeping each field's byte offset.
fn fields_with_offsets(source: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in source
        .char_indices()
        .chain(std::iter::once((source.len(), ' ')))
    {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &source[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

fn compile(source: &str) -> (Cron, Vec<CronError>) {
    let fields = fields_with_offsets(source);
    let mut errors = Vec::new();
    let mut sets = [0u64; 5];
    if fields.len() != 5 {
        let position = fields.get(5).map_or(source.len(), |(offset, _)| *offset);
        errors.push(CronError {
            position,
            field: None,
            kind: CronErrorKind::FieldCount(fields.len()),
        });
    }
    for ((offset, text), field) in fields.iter().zip(FIELDS) {
        sets[field as usize] = parse_field(field, text, *offset, &mut errors);
    }
    let starts_with_star = |i: usize| fields.get(i).is_some_and(|(_, t)| t.starts_with('*'));
    let cron = Cron {
        source: source.to_owned(),
        sets,
        dom_star: starts_with_star(2),
        dow_star: starts_with_star(4),
    };
    (cron, errors)
}

fn parse_field(field: CronField, text: &str, offset: usize, errors: &mut Vec<CronError>) -> u64 {
    let mut set = 0;
    let mut item_offset = offset;
    for item in text.split(',') {
        let mut report = |delta: usize, kind| {
            errors.push(CronError {
                position: item_offset + delta,
                field: Some(field),
                kind,
            })
        };
        match parse_item(field, item) {
            Ok(bits) => set |= bits,
            Err((delta, kind)) => report(delta, kind),
        }
        item_offset += item.len() + 1;
    }
    set
}

type ItemError = (usize, CronErrorKind);

/// One list item: `*`, `N`, `A-B`, optionally `/STEP`. Errors carry an offset into the item.
fn parse_item(field: CronField, item: &str) -> Result<u64, ItemError> {
    if item.is_empty() {
        return Err((0, CronErrorKind::EmptyItem));
    }
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some((range.len() + 1, step))),
        None => (item, None),
    };
    let (min, max) = field.bounds();
    let (start, mut end) = parse_range(field, range)?;
    let step = match step {
        Some((delta, text)) => {
            if !range.contains('-') && range != "*" {
                end = max; // `N/STEP` runs from N to the maximum.
            }
            parse_step(text).ok_or((delta, CronErrorKind::InvalidStep(text.to_owned())))?
        }
        None => 1,
    };
    debug_assert!(min <= start && end <= max);
    Ok((start..=end)
        .step_by(step)
        .fold(0u64, |bits, v| bits | 1 << v))
}

fn parse_step(text: &str) -> Option<usize> {
    text.parse::<usize>().ok().filter(|s| *s > 0)
}

fn parse_range(field: CronField, range: &str) -> Result<(u8, u8), ItemError> {
    let (min, max) = field.bounds();
    if range == "*" {
        return Ok((min, max));
    }
    match range.split_once('-') {
        Some((a, b)) => {
            let start = parse_value(field, a).map_err(|k| (0, k))?;
            let end = parse_value(field, b).map_err(|k| (a.len() + 1, k))?;
            if start > end {
                return Err((0, CronErrorKind::ReversedRange { start, end }));
            }
            Ok((start, end))
        }
        None => parse_value(field, range)
            .map(|v| (v, v))
            .map_err(|k| (0, k)),
    }
}

fn parse_value(field: CronField, text: &str) -> Result<u8, CronErrorKind> {
    let (min, max) = field.bounds();
    if let Some(v) = field.value_of_name(text) {
        return Ok(v);
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CronErrorKind::InvalidValue(text.to_owned()));
    }
    let value: u32 = text.parse().unwrap_or(u32::MAX);
    match u8::try_from(value) {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(CronErrorKind::OutOfRange { value, min, max }),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (i32::try_from(year).unwrap_or(i32::MAX), month, day)
}

/// 0 = Sunday; 1970-01-01 was a Thursday.
fn weekday_of(days: i64) -> u8 {
    (days + 4).rem_euclid(7) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(year: i32, month: u8, day: u8, hour: u8, minute: u8) -> UtcMinute {
        UtcMinute {
            year,
            month,
            day,
            hour,
            minute,
        }
    }

    fn next(expr: &str, from: UtcMinute) -> Option<UtcMinute> {
        Cron::parse(expr).unwrap().next_after(from)
    }

    #[test]
    fn calendar_round_trips() {
        for days in [-1_000_000i64, -1, 0, 1, 59, 60, 11_016, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(UtcMinute::from_unix(1_700_000_000), t(2023, 11, 14, 22, 13));
        assert_eq!(t(2024, 2, 29, 0, 0).weekday(), 4);
        assert_eq!(UtcMinute::from_unix(-60), t(1969, 12, 31, 23, 59));
    }

    #[test]
    fn github_doc_examples() {
        // `30 5 * * 1,3`: 05:30 UTC every Monday and Wednesday.
        let c = Cron::parse("30 5 * * 1,3").unwrap();
        assert_eq!(
            c.next_after(t(2024, 1, 1, 5, 30)),
            Some(t(2024, 1, 3, 5, 30))
        );
        // `30 5,17 * * *`: 05:30 and 17:30 every day.
        assert_eq!(
            next("30 5,17 * * *", t(2024, 1, 1, 6, 0)),
            Some(t(2024, 1, 1, 17, 30))
        );
        // `*/15 * * * *`: every 15 minutes.
        assert_eq!(
            next("*/15 * * * *", t(2024, 1, 1, 6, 0)),
            Some(t(2024, 1, 1, 6, 15))
        );
        assert_eq!(
            next("*/15 * * * *", t(2024, 1, 1, 23, 59)),
            Some(t(2024, 1, 2, 0, 0))
        );
        // `0 12 * * 1-5` (MON-FRI): noon every weekday. 2024-01-06 is a Saturday.
        assert_eq!(
            next("0 12 * * MON-FRI", t(2024, 1, 5, 12, 0)),
            Some(t(2024, 1, 8, 12, 0))
        );
        // `0 12 1 JAN *` and `2-59/5` style steps.
        assert_eq!(
            next("0 12 1 jan *", t(2024, 1, 1, 12, 0)),
            Some(t(2025, 1, 1, 12, 0))
        );
        assert_eq!(
            next("2-59/5 * * * *", t(2024, 1, 1, 0, 0)),
            Some(t(2024, 1, 1, 0, 2))
        );
    }

    #[test]
    fn next_after_is_strict_and_handles_leap_years() {
        assert_eq!(
            next("0 0 29 2 *", t(2024, 2, 29, 0, 0)),
            Some(t(2028, 2, 29, 0, 0))
        );
        assert_eq!(next("0 0 30 2 *", t(2024, 1, 1, 0, 0)), None);
        assert_eq!(
            next("59 23 31 12 *", t(2024, 12, 31, 23, 58)),
            Some(t(2024, 12, 31, 23, 59))
        );
        let c = Cron::parse("0 * * * *").unwrap();
        assert_eq!(c.next_after_unix(1_700_000_000), Some(1_700_002_800));
    }

    #[test]
    fn either_day_rule_when_both_day_fields_are_restricted() {
        // 15th of the month or any Friday: 2024-03-01 is a Friday.
        assert_eq!(
            next("0 0 15 * FRI", t(2024, 2, 28, 0, 0)),
            Some(t(2024, 3, 1, 0, 0))
        );
        assert_eq!(
            next("0 0 15 * FRI", t(2024, 3, 13, 0, 0)),
            Some(t(2024, 3, 15, 0, 0))
        );
        // With a `*`-led day field both must match: the 13th that is a Friday.
        assert_eq!(
            next("0 0 13 * */5", t(2024, 1, 1, 0, 0)),
            Some(t(2024, 9, 13, 0, 0))
        );
    }

    #[test]
    fn steps_from_a_single_value_run_to_the_maximum() {
        let c = Cron::parse("5/20 * * * *").unwrap();
        assert!(c.matches(t(2024, 1, 1, 0, 45)));
        assert!(!c.matches(t(2024, 1, 1, 0, 50)));
    }

    #[test]
    fn errors_point_at_the_offending_field() {
        let err = |s: &str| Cron::parse(s).unwrap_err();
        assert_eq!(err("* * * *").kind, CronErrorKind::FieldCount(4));
        assert_eq!(
            err("* * * * * *"),
            CronError {
                position: 10,
                field: None,
                kind: CronErrorKind::FieldCount(6)
            }
        );
        assert_eq!(
            err("0 24 * * *"),
            CronError {
                position: 2,
                field: Some(CronField::Hour),
                kind: CronErrorKind::OutOfRange {
                    value: 24,
                    min: 0,
                    max: 23
                }
            }
        );
        assert_eq!(err("0 0 * * 1,FOO").position, 10);
        assert_eq!(
            err("0 0 * * 1,FOO").kind,
            CronErrorKind::InvalidValue("FOO".into())
        );
        assert_eq!(err("0 0 0 * *").field, Some(CronField::DayOfMonth));
        assert_eq!(err("0 0 * 13 *").field, Some(CronField::Month));
        assert_eq!(err("0 0 * * 7").field, Some(CronField::DayOfWeek));
        assert_eq!(
            err("*/0 * * * *").kind,
            CronErrorKind::InvalidStep("0".into())
        );
        assert_eq!(err("*/0 * * * *").position, 2);
        assert_eq!(
            err("5-1 * * * *").kind,
            CronErrorKind::ReversedRange { start: 5, end: 1 }
        );
        assert_eq!(err("1,,2 * * * *").kind, CronErrorKind::EmptyItem);
        assert_eq!(err("0 0 * JAN-x *").position, 10);
        assert_eq!(err("@daily").kind, CronErrorKind::FieldCount(1));
        assert_eq!(Cron::validate("60 24 32 13 7").len(), 5);
        assert_eq!(
            err("0 24 * * *").to_string(),
            "invalid cron expression at character 2 (hour field): 24 is out of range 0-23"
        );
    }

    /// The accept/reject rules of GitHub's own workflow parser (actions/languageservices).
    #[test]
    fn github_parser_rules() {
        let valid = [
            "0 0 * * *",
            "0 000 001 * *",
            "2,10 4,5 * * *",
            "30 4-6 * * *",
            "0 4-4 * * *",
            "20/15 * * * *",
            "28 */4 * * *",
            "28 5,*/4,6-8 * * *",
            "0 0 * * SUN",
            "0 0 * * sun-TUE",
            "0 0 * * SUN-2",
            "0 2-4/5 * * *",
            "0   0  *  *               *",
            "0 0 * FEB/2 MON/3",
        ];
        for cron in valid {
            assert!(Cron::parse(cron).is_ok(), "{cron} should be valid");
        }
        let invalid = [
            "0 -1 * * *",
            "0 1- * * *",
            "0 /1 * * *",
            "0 1/ * * *",
            "0 ,1 * * *",
            "0 1, * * *",
            "0 5--5 * * *",
            "0 *//5 * * *",
            "0 */* * * *",
            "0 5/* * * *",
            "0 *-4 5-* *-* *",
            "0 ,, * * *",
            ", , , , ,",
            "0 ** * * *",
            "0 0 * * BUN",
            "0 0 * SUN JAN",
            "0 0 * * FRI-TUE",
            "0 12-4 * * *",
            "0 2/4-5 * * *",
            "0 2-4-6 * * *",
            "0 2/4/6 * * *",
            "0 * * */FEB */TUE",
        ];
        for cron in invalid {
            assert!(Cron::parse(cron).is_err(), "{cron} should be invalid");
        }
    }

    #[test]
    fn short_intervals_warn() {
        let interval = |s: &str| Cron::parse(s).unwrap().min_interval_minutes();
        assert_eq!(interval("* * * * *"), 1);
        assert_eq!(interval("*/5 * * * *"), 5);
        assert_eq!(interval("0,3 * * * *"), 3);
        assert_eq!(interval("58 23 * * *"), 1440);
        assert_eq!(interval("58,1 0,23 * * *"), 3);
        assert!(Cron::parse("*/5 * * * *").unwrap().warnings().is_empty());
        assert_eq!(
            Cron::parse("*/2 * * * *").unwrap().warnings(),
            vec![CronWarning::IntervalTooShort(2)]
        );
    }
}
