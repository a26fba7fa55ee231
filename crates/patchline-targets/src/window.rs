//! Change window: the weekly hours in which an environment may be changed.

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::TargetError;

/// `change_window` as written in a target config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeWindowConfig {
    /// English day names (`Friday`, `fri`), any case; every day when absent.
    #[serde(default)]
    pub days: Option<Vec<String>>,
    /// Local opening time, `HH:MM`.
    pub start: String,
    /// Local closing time, `HH:MM`, exclusive; earlier than `start` for a
    /// window that runs past midnight.
    pub stop: String,
    /// IANA time zone the times are in; `UTC` when absent.
    #[serde(default = "utc")]
    pub location: String,
}

fn utc() -> String {
    "UTC".into()
}

/// A validated change window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeWindow {
    days: Vec<Weekday>,
    start: NaiveTime,
    stop: NaiveTime,
    zone: Tz,
}

impl ChangeWindow {
    /// Validate `config`; errors name the `change_window` field that is wrong.
    pub fn new(config: &ChangeWindowConfig) -> Result<ChangeWindow, TargetError> {
        let days = match &config.days {
            None => ALL_DAYS.to_vec(),
            Some(names) if names.is_empty() => {
                return Err(TargetError::config(
                    "change_window.days",
                    "is empty; leave it out for every day",
                ))
            }
            Some(names) => {
                let mut days = Vec::new();
                for name in names {
                    let day = parse_day(name).ok_or_else(|| {
                        TargetError::config(
                            "change_window.days",
                            format!(
                                "{name:?} is not a day of the week (Monday..Sunday or Mon..Sun)"
                            ),
                        )
                    })?;
                    if !days.contains(&day) {
                        days.push(day);
                    }
                }
                days
            }
        };
        let time = |field: &str, text: &str| {
            NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| {
                TargetError::config(
                    format!("change_window.{field}"),
                    format!("{text:?} is not a time of day as HH:MM"),
                )
            })
        };
        let start = time("start", &config.start)?;
        let stop = time("stop", &config.stop)?;
        if start == stop {
            return Err(TargetError::config(
                "change_window.stop",
                "equals start, so the window would never open",
            ));
        }
        let zone: Tz = config.location.parse().map_err(|_| {
            TargetError::config(
                "change_window.location",
                format!(
                    "{:?} is not an IANA time zone (e.g. Europe/Amsterdam)",
                    config.location
                ),
            )
        })?;
        Ok(ChangeWindow {
            days,
            start,
            stop,
            zone,
        })
    }

    /// Return whether the window is open at `now`.
    ///
    /// A window whose stop is earlier than its start runs past midnight: it
    /// opens on the listed days and closes on the following morning.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.zone);
        let time = local.time();
        let today = self.days.contains(&local.weekday());
        if self.start < self.stop {
            today && self.start <= time && time < self.stop
        } else {
            let yesterday = self.days.contains(&local.weekday().pred());
            (today && time >= self.start) || (yesterday && time < self.stop)
        }
    }

    /// Fail with [`TargetError::WindowClosed`] unless the window is open at `now`.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), TargetError> {
        if self.is_open(now) {
            return Ok(());
        }
        let local = now.with_timezone(&self.zone);
        Err(TargetError::WindowClosed {
            window: self.to_string(),
            now: format!(
                "{} {} {}",
                day_name(local.weekday()),
                local.format("%H:%M"),
                self.zone.name()
            ),
        })
    }
}

impl std::fmt::Display for ChangeWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.days.len() == ALL_DAYS.len() {
            f.write_str("daily")?;
        } else {
            let names: Vec<_> = self.days.iter().map(|day| day_name(*day)).collect();
            f.write_str(&names.join(","))?;
        }
        write!(
            f,
            " {}-{} {}",
            self.start.format("%H:%M"),
            self.stop.format("%H:%M"),
            self.zone.name()
        )
    }
}

const ALL_DAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// Return the English name of a day (`Friday`).
pub fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// Accept a full English day name or its first three letters, any case.
fn parse_day(name: &str) -> Option<Weekday> {
    let lower = name.trim().to_ascii_lowercase();
    ALL_DAYS.into_iter().find(|day| {
        let full = day_name(*day).to_ascii_lowercase();
        lower == full || lower == full[..3]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(
        days: Option<&[&str]>,
        start: &str,
        stop: &str,
        location: &str,
    ) -> Result<ChangeWindow, TargetError> {
        ChangeWindow::new(&ChangeWindowConfig {
            days: days.map(|days| days.iter().map(|d| d.to_string()).collect()),
            start: start.into(),
            stop: stop.into(),
            location: location.into(),
        })
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn closed_outside_names_window_and_local_time() {
        let window = window(Some(&["friday"]), "09:30", "11:30", "Europe/Amsterdam").unwrap();

        // 2025-01-09 is a Thursday; 13:02 UTC is 14:02 in Amsterdam in winter.
        let err = window
            .check(at("2025-01-09T13:02:00Z"))
            .unwrap_err()
            .to_string();

        assert_eq!(
            err,
            "change window Friday 09:30-11:30 Europe/Amsterdam is closed (now Thursday 14:02 Europe/Amsterdam)"
        );
    }

    #[test]
    fn open_inside_in_the_configured_zone() {
        let window = window(Some(&["Fri"]), "09:30", "11:30", "Europe/Amsterdam").unwrap();

        // 08:45 UTC on Friday 2025-01-10 is 09:45 in Amsterdam.
        assert!(window.is_open(at("2025-01-10T08:45:00Z")));
        // 09:30 Amsterdam is open, 11:30 is already closed.
        assert!(window.is_open(at("2025-01-10T08:30:00Z")));
        assert!(!window.is_open(at("2025-01-10T10:30:00Z")));
        // Summer time moves the window: 07:45 UTC on 2025-07-04 is 09:45 CEST.
        assert!(window.is_open(at("2025-07-04T07:45:00Z")));
    }

    #[test]
    fn window_past_midnight_belongs_to_its_start_day() {
        let window = window(Some(&["Saturday"]), "22:00", "02:00", "UTC").unwrap();

        assert!(window.is_open(at("2025-01-11T23:00:00Z"))); // Saturday night
        assert!(window.is_open(at("2025-01-12T01:59:00Z"))); // early Sunday
        assert!(!window.is_open(at("2025-01-12T22:30:00Z"))); // Sunday night
        assert!(!window.is_open(at("2025-01-11T01:00:00Z"))); // early Saturday
        assert_eq!(window.to_string(), "Saturday 22:00-02:00 UTC");
    }

    #[test]
    fn every_day_when_days_are_absent() {
        let window = window(None, "00:00", "06:00", "UTC").unwrap();

        assert_eq!(window.to_string(), "daily 00:00-06:00 UTC");
        assert!(window.is_open(at("2025-01-08T05:00:00Z")));
        assert!(!window.is_open(at("2025-01-08T06:00:00Z")));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (window(Some(&["Funday"]), "09:00", "10:00", "UTC"), "target: change_window.days: \"Funday\" is not a day of the week (Monday..Sunday or Mon..Sun)"),
            (window(Some(&[]), "09:00", "10:00", "UTC"), "target: change_window.days: is empty; leave it out for every day"),
            (window(None, "9", "10:00", "UTC"), "target: change_window.start: \"9\" is not a time of day as HH:MM"),
            (window(None, "09:00", "25:00", "UTC"), "target: change_window.stop: \"25:00\" is not a time of day as HH:MM"),
            (window(None, "09:00", "09:00", "UTC"), "target: change_window.stop: equals start, so the window would never open"),
            (window(None, "09:00", "10:00", "Mars/Olympus"), "target: change_window.location: \"Mars/Olympus\" is not an IANA time zone (e.g. Europe/Amsterdam)"),
        ];
        for (result, expected) in cases {
            assert_eq!(result.unwrap_err().to_string(), expected);
        }
    }
}
