//! attune-core-timer-sensor: the core pack's interval timer sensor.
//!
//! Emits one JSON trigger event per line on stdout at a fixed interval:
//! `{"trigger":"core.intervaltimer","seq":1,"timestamp":"2026-03-27T21:37:46.123Z","interval_ms":1000}`
//!
//! std only (no crates), so it builds offline and links statically with musl. It exits 0 after
//! `--count N` events, on SIGTERM/SIGINT, and when stdout is closed.

use std::env;
use std::ffi::OsString;
use std::fmt::{self, Write as _};
use std::io::{self, ErrorKind, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const NAME: &str = env!("CARGO_PKG_NAME");
const VERSION: &str = env!("CARGO_PKG_VERSION");
const TARGET: &str = env!("BUILD_TARGET");

const DEFAULT_TRIGGER: &str = "core.intervaltimer";
const DEFAULT_INTERVAL_MS: u64 = 1000;
/// Upper bound for an interval: one year.
const MAX_INTERVAL_MS: u64 = 365 * 24 * 3600 * 1000;
/// Longest sleep between two checks of the signal flag.
const SLICE: Duration = Duration::from_millis(20);

const EXIT_USAGE: u8 = 2;

// Same numbers on every Linux architecture this is built for (x86_64, aarch64).
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;
/// signal() returns SIG_ERR ((sighandler_t)-1) on failure.
const SIG_ERR: usize = usize::MAX;

/// The number of the last termination signal received, 0 for none.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" {
    // libc is always linked (glibc or musl); std has no signal API.
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
}

extern "C" fn on_signal(signum: i32) {
    // Only an atomic store: async-signal-safe.
    SIGNAL.store(signum, Ordering::SeqCst);
}

const USAGE: &str = "\
Usage: attune-core-timer-sensor [OPTIONS]

Emits JSON trigger events on stdout, one object per line, at a fixed interval:
  {\"trigger\":\"core.intervaltimer\",\"seq\":1,\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"interval_ms\":1000}

Options:
  --interval-ms N       interval in milliseconds (env ATTUNE_TIMER_INTERVAL_MS; default 1000)
  --interval SECONDS    interval in seconds, fractions allowed (env ATTUNE_TIMER_INTERVAL)
  --trigger REF         trigger reference (env ATTUNE_TIMER_TRIGGER; default core.intervaltimer)
  --count N             exit 0 after N events (default: run until SIGTERM/SIGINT)
  -V, --version         print the version and build target, then exit
  -h, --help            print this help, then exit

Flags override the environment; of the two interval flags the last one given wins, and
ATTUNE_TIMER_INTERVAL_MS wins over ATTUNE_TIMER_INTERVAL. The first event is emitted one
interval after start. Exit status: 0 on completion, SIGTERM/SIGINT or closed stdout;
1 on an output error; 2 on bad usage.
";

#[derive(Debug, PartialEq)]
struct Config {
    interval_ms: u64,
    trigger: String,
    count: Option<u64>,
}

#[derive(Debug, PartialEq)]
enum Command {
    Run(Config),
    Help,
    Version,
}

/// Writes a line to stderr, ignoring errors (eprintln! would panic on a broken stderr).
fn say(args: fmt::Arguments) {
    let _ = writeln!(io::stderr(), "{NAME}: {args}");
}

fn parse_interval_ms(value: &str, what: &str) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(ms) if (1..=MAX_INTERVAL_MS).contains(&ms) => Ok(ms),
        _ => Err(format!(
            "invalid {what} '{value}': expected whole milliseconds from 1 to {MAX_INTERVAL_MS}"
        )),
    }
}

fn parse_interval_secs(value: &str, what: &str) -> Result<u64, String> {
    let err = || {
        format!(
            "invalid {what} '{value}': expected seconds (fractions allowed) from 0.001 to {}",
            MAX_INTERVAL_MS / 1000
        )
    };
    let secs: f64 = value.trim().parse().map_err(|_| err())?;
    if !secs.is_finite() {
        return Err(err());
    }
    let ms = (secs * 1000.0).round();
    if ms < 1.0 || ms > MAX_INTERVAL_MS as f64 {
        return Err(err());
    }
    Ok(ms as u64)
}

fn parse_count(value: &str) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "invalid --count '{value}': expected a whole number of events, at least 1"
        )),
    }
}

fn parse_trigger(value: &str, what: &str) -> Result<String, String> {
    if value.is_empty() || value.chars().any(char::is_control) {
        return Err(format!(
            "invalid {what} '{value}': expected a non-empty trigger reference such as core.intervaltimer"
        ));
    }
    Ok(value.to_string())
}

/// Parses the command line (without the program name) and the environment, given as a lookup.
fn parse_args<I, E>(args: I, getenv: E) -> Result<Command, String>
where
    I: IntoIterator<Item = OsString>,
    E: Fn(&str) -> Result<Option<String>, String>,
{
    let mut interval_ms: Option<u64> = None;
    let mut trigger: Option<String> = None;
    let mut count: Option<u64> = None;

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("argument is not valid UTF-8: {a:?}"))?;
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "-h" | "--help" if inline.is_none() => return Ok(Command::Help),
            "-V" | "--version" if inline.is_none() => return Ok(Command::Version),
            "--interval-ms" | "--interval" | "--trigger" | "--count" => {
                let value = match inline {
                    Some(v) => v,
                    None => args
                        .next()
                        .ok_or_else(|| format!("{flag} needs a value"))?
                        .into_string()
                        .map_err(|a| format!("value of {flag} is not valid UTF-8: {a:?}"))?,
                };
                match flag.as_str() {
                    "--interval-ms" => interval_ms = Some(parse_interval_ms(&value, &flag)?),
                    "--interval" => interval_ms = Some(parse_interval_secs(&value, &flag)?),
                    "--trigger" => trigger = Some(parse_trigger(&value, &flag)?),
                    _ => count = Some(parse_count(&value)?),
                }
            }
            _ if arg.starts_with('-') => return Err(format!("unknown option '{arg}'")),
            _ => return Err(format!("unexpected argument '{arg}'")),
        }
    }

    let interval_ms = match interval_ms {
        Some(ms) => ms,
        None => match getenv("ATTUNE_TIMER_INTERVAL_MS")? {
            Some(v) => parse_interval_ms(&v, "ATTUNE_TIMER_INTERVAL_MS")?,
            None => match getenv("ATTUNE_TIMER_INTERVAL")? {
                Some(v) => parse_interval_secs(&v, "ATTUNE_TIMER_INTERVAL")?,
                None => DEFAULT_INTERVAL_MS,
            },
        },
    };
    let trigger = match trigger {
        Some(t) => t,
        None => match getenv("ATTUNE_TIMER_TRIGGER")? {
            Some(v) => parse_trigger(&v, "ATTUNE_TIMER_TRIGGER")?,
            None => DEFAULT_TRIGGER.to_string(),
        },
    };
    Ok(Command::Run(Config {
        interval_ms,
        trigger,
        count,
    }))
}

/// Reads an environment variable; unset or empty is None, non-UTF-8 is an error.
fn real_env(name: &str) -> Result<Option<String>, String> {
    match env::var(name) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(env::VarError::NotPresent) => Ok(None),
        Err(env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

/// Days since 1970-01-01 to a (year, month, day) civil date (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// RFC 3339 UTC timestamp with milliseconds, e.g. 2026-03-27T21:37:46.123Z.
fn rfc3339(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn event_line(trigger: &str, seq: u64, now: SystemTime, interval_ms: u64) -> String {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    format!(
        "{{\"trigger\":{},\"seq\":{seq},\"timestamp\":\"{}\",\"interval_ms\":{interval_ms}}}\n",
        json_string(trigger),
        rfc3339(since_epoch)
    )
}

fn signal_name(signum: i32) -> &'static str {
    match signum {
        SIGTERM => "SIGTERM",
        SIGINT => "SIGINT",
        _ => "a signal",
    }
}

fn install_signal_handlers() {
    for signum in [SIGTERM, SIGINT] {
        // SAFETY: on_signal only performs an atomic store, which is async-signal-safe.
        if unsafe { signal(signum, on_signal) } == SIG_ERR {
            say(format_args!(
                "warning: cannot handle {}",
                signal_name(signum)
            ));
        }
    }
}

/// Sleeps until `deadline` in short slices; false as soon as a termination signal arrived.
fn wait_until(deadline: Instant) -> bool {
    loop {
        if SIGNAL.load(Ordering::SeqCst) != 0 {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::sleep((deadline - now).min(SLICE));
    }
}

fn run(config: &Config) -> ExitCode {
    install_signal_handlers();
    let interval = Duration::from_millis(config.interval_ms);
    let mut stdout = io::stdout().lock();
    let mut next = Instant::now() + interval;
    let mut seq: u64 = 0;
    loop {
        if !wait_until(next) {
            say(format_args!(
                "received {}, exiting after {seq} event(s)",
                signal_name(SIGNAL.load(Ordering::SeqCst))
            ));
            return ExitCode::SUCCESS;
        }
        seq += 1;
        let line = event_line(&config.trigger, seq, SystemTime::now(), config.interval_ms);
        match stdout
            .write_all(line.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => {}
            // The reader went away (SIGPIPE is ignored by the Rust runtime): done, quietly.
            Err(e) if e.kind() == ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
            Err(e) => {
                say(format_args!("cannot write to stdout: {e}"));
                return ExitCode::FAILURE;
            }
        }
        if config.count == Some(seq) {
            return ExitCode::SUCCESS;
        }
        // Fixed schedule without drift; after a stall (suspend, slow reader) skip, don't burst.
        next += interval;
        let now = Instant::now();
        if next < now {
            next = now + interval;
        }
    }
}

/// Prints `text` on stdout; a closed stdout is not an error.
fn print_stdout(text: &str) -> ExitCode {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            say(format_args!("cannot write to stdout: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    match parse_args(env::args_os().skip(1), real_env) {
        Ok(Command::Run(config)) => run(&config),
        Ok(Command::Help) => print_stdout(USAGE),
        Ok(Command::Version) => print_stdout(&format!("{NAME} {VERSION} ({TARGET})\n")),
        Err(message) => {
            say(format_args!("{message}"));
            say(format_args!("try '{NAME} --help' for usage"));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Command, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_args(args.iter().map(OsString::from), move |name| {
            Ok(env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        })
    }

    fn config(interval_ms: u64, trigger: &str, count: Option<u64>) -> Command {
        Command::Run(Config {
            interval_ms,
            trigger: trigger.to_string(),
            count,
        })
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(20_539), (2026, 3, 27));
        assert_eq!(civil_from_days(20_818), (2026, 12, 31));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(Duration::from_millis(1_774_647_466_123)),
            "2026-03-27T21:37:46.123Z"
        );
        assert_eq!(
            rfc3339(Duration::from_secs(951_782_400 - 1)),
            "2000-02-28T23:59:59.000Z"
        );
    }

    #[test]
    fn json_escaping() {
        assert_eq!(json_string("core.x"), "\"core.x\"");
        assert_eq!(json_string("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\u0001\"");
    }

    #[test]
    fn defaults_flags_and_env() {
        assert_eq!(
            parse(&[], &[]),
            Ok(config(1000, "core.intervaltimer", None))
        );
        assert_eq!(
            parse(
                &["--interval-ms", "50", "--count=3", "--trigger", "x.y"],
                &[]
            ),
            Ok(config(50, "x.y", Some(3)))
        );
        assert_eq!(
            parse(&["--interval", "0.25"], &[]),
            Ok(config(250, "core.intervaltimer", None))
        );
        assert_eq!(
            parse(&["--interval=2", "--interval-ms=7"], &[]),
            Ok(config(7, "core.intervaltimer", None))
        );
        let env = [
            ("ATTUNE_TIMER_INTERVAL", "3"),
            ("ATTUNE_TIMER_INTERVAL_MS", "40"),
            ("ATTUNE_TIMER_TRIGGER", "p.t"),
        ];
        assert_eq!(parse(&[], &env), Ok(config(40, "p.t", None)));
        assert_eq!(
            parse(&[], &env[..1]),
            Ok(config(3000, "core.intervaltimer", None))
        );
        assert_eq!(
            parse(&["--interval-ms", "9"], &env),
            Ok(config(9, "p.t", None))
        );
        assert_eq!(parse(&["--help", "--bogus"], &[]), Ok(Command::Help));
        assert_eq!(parse(&["-V"], &[]), Ok(Command::Version));
    }

    #[test]
    fn bad_usage() {
        for args in [
            &["--bogus"][..],
            &["extra"],
            &["--count"],
            &["--count", "0"],
            &["--interval-ms", "0"],
            &["--interval-ms", "1.5"],
            &["--interval", "nan"],
            &["--interval", "0.0001"],
            &["--interval", "-1"],
            &["--trigger", ""],
            &["--version=1"],
        ] {
            assert!(parse(args, &[]).is_err(), "{args:?} accepted");
        }
        assert!(parse(&[], &[("ATTUNE_TIMER_INTERVAL_MS", "x")]).is_err());
    }
}
