//! Answering a task's probes in rounds: file and command probes go to the host as they are; a
//! named [query](super::query) goes as the [primitives](super::primitive) it needs, and its
//! answer is computed here from theirs. Most queries need one round, so a task's probes stay
//! one round trip; a query that needs more (a unit systemctl must judge, a user's home before
//! their keys, the facts' second look) asks again, with only what is still open.
//!
//! [`Reads`] keeps what queries read of files (the paragraphs of dpkg's database they asked
//! for), per host for the run, with the files' version tags: the host sends it again only when
//! the file changed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::primitive::{Paragraphs, Primitive, Read};
use super::query::Query;
use super::{Answer, CmdOutput, FileState, Observed, Probe};
use crate::error::{Error, Result};

/// Rounds a query may take before it is an error (the most any needs is 3).
const MAX_ROUNDS: usize = 6;

/// What a query needs next.
pub enum Next {
    Ask(Vec<Probe>),
    Done(CmdOutput),
}

/// A file as last read: (version tag, text).
type Kept = (String, Arc<str>);

/// Files read by queries, by reader and path.
#[derive(Debug, Default)]
pub struct ReadCache(Mutex<HashMap<(String, String), Kept>>);

/// The cache as one reader (the become user) sees it.
pub struct Reads<'a> {
    cache: &'a ReadCache,
    reader: &'a str,
}

impl ReadCache {
    pub fn reader<'a>(&'a self, user: &'a str) -> Reads<'a> {
        Reads {
            cache: self,
            reader: user,
        }
    }
}

/// The largest file a query reads whole.
pub const READ_LIMIT: u64 = 64 << 20;

impl Reads<'_> {
    fn key(&self, path: &str, only: Option<&Paragraphs>) -> (String, String) {
        let what = match only {
            None => path.to_string(),
            Some(k) => format!("{path}\0{}\0{}", k.field, k.values.join(" ")),
        };
        (self.reader.to_string(), what)
    }

    /// The probe that reads `path` (or `only` its paragraphs of these packages...), only when
    /// it changed since the last read.
    pub fn ask(&self, path: &str, only: Option<&Paragraphs>) -> Probe {
        let unless = self
            .cache
            .0
            .lock()
            .unwrap()
            .get(&self.key(path, only))
            .map(|(tag, _)| tag.clone());
        Probe::Primitive(Primitive::Read {
            path: path.into(),
            limit: READ_LIMIT,
            unless,
            paragraphs: only.cloned(),
        })
    }

    /// The file's text from the answer to [`Reads::ask`]: `None` when it is not a readable
    /// regular file, or larger than [`READ_LIMIT`].
    pub fn text(
        &self,
        path: &str,
        only: Option<&Paragraphs>,
        answer: &CmdOutput,
    ) -> Result<Option<Arc<str>>> {
        let key = self.key(path, only);
        let mut cache = self.cache.0.lock().unwrap();
        match Read::parse(answer.rc, &answer.stdout) {
            Read::Missing => {
                cache.remove(&key);
                Ok(None)
            }
            Read::Unchanged => match cache.get(&key) {
                Some((_, text)) => Ok(Some(text.clone())),
                None => Err(Error::runtime(format!(
                    "the host said {path} is unchanged, but it was never read"
                ))),
            },
            Read::Data { tag, bytes } => {
                let size: u64 = tag
                    .split(':')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if size > READ_LIMIT && only.is_none() {
                    return Ok(None);
                }
                let text: Arc<str> = bytes.into();
                cache.insert(key, (tag, text.clone()));
                Ok(Some(text))
            }
        }
    }
}

/// The answers of one query's rounds so far.
pub struct Got<'a>(pub &'a [Vec<Answer>]);

impl Got<'_> {
    pub fn rounds(&self) -> usize {
        self.0.len()
    }
    /// Answer `k` of round `r`, a command's.
    pub fn cmd(&self, r: usize, k: usize) -> Result<&CmdOutput> {
        match self.0.get(r).and_then(|a| a.get(k)) {
            Some(Answer::Command(c)) => Ok(c),
            _ => Err(missing(r, k)),
        }
    }
    /// Answer `k` of round `r`, a file's.
    pub fn file(&self, r: usize, k: usize) -> Result<&FileState> {
        match self.0.get(r).and_then(|a| a.get(k)) {
            Some(Answer::File(f)) => Ok(f),
            _ => Err(missing(r, k)),
        }
    }
}

fn missing(r: usize, k: usize) -> Error {
    Error::runtime(format!(
        "internal error: a query read answer {k} of round {r}, which it never asked"
    ))
}

/// One query on its way to an answer.
struct Open {
    /// Its index among the task's probes.
    at: usize,
    query: Query,
    got: Vec<Vec<Answer>>,
    asking: Vec<Probe>,
}

/// A task's probes, answered round by round.
pub struct Rounds<'a> {
    probes: &'a [Probe],
    reads: Reads<'a>,
    answers: Vec<Option<Answer>>,
    open: Vec<Open>,
    /// The plain probes still to send (the first round only).
    plain: Vec<usize>,
    round: usize,
}

impl<'a> Rounds<'a> {
    pub fn new(probes: &'a [Probe], reads: Reads<'a>) -> Result<Rounds<'a>> {
        let mut r = Rounds {
            probes,
            reads,
            answers: vec![None; probes.len()],
            open: Vec::new(),
            plain: Vec::new(),
            round: 0,
        };
        for (i, p) in probes.iter().enumerate() {
            match p {
                Probe::Query(q) => {
                    let mut open = Open {
                        at: i,
                        query: q.clone(),
                        got: Vec::new(),
                        asking: Vec::new(),
                    };
                    match q.next(&Got(&[]), &r.reads)? {
                        Next::Ask(ask) => open.asking = ask,
                        Next::Done(out) => {
                            r.answers[i] = Some(Answer::Command(out));
                            continue;
                        }
                    }
                    r.open.push(open);
                }
                _ => r.plain.push(i),
            }
        }
        Ok(r)
    }

    /// What to send the host this round; `None` when everything is answered.
    pub fn wire(&self) -> Option<Vec<Probe>> {
        let mut w: Vec<Probe> = self.plain.iter().map(|&i| self.probes[i].clone()).collect();
        for o in &self.open {
            w.extend(o.asking.iter().cloned());
        }
        (!w.is_empty()).then_some(w)
    }

    /// Take the host's answers to [`Rounds::wire`].
    pub fn feed(&mut self, obs: Observed) -> Result<()> {
        self.round += 1;
        if self.round > MAX_ROUNDS {
            return Err(Error::runtime(
                "internal error: a query asked the host more than six times",
            ));
        }
        let mut answers = obs.answers.into_iter();
        for i in std::mem::take(&mut self.plain) {
            self.answers[i] = answers.next();
        }
        let mut still = Vec::new();
        for mut o in std::mem::take(&mut self.open) {
            let n = o.asking.len();
            o.got.push(answers.by_ref().take(n).collect());
            match o.query.next(&Got(&o.got), &self.reads)? {
                Next::Ask(ask) => {
                    o.asking = ask;
                    still.push(o);
                }
                Next::Done(out) => self.answers[o.at] = Some(Answer::Command(out)),
            }
        }
        self.open = still;
        Ok(())
    }

    /// The answers, in the probes' order.
    pub fn finish(self) -> Result<Observed> {
        let mut answers = Vec::with_capacity(self.answers.len());
        for (i, a) in self.answers.into_iter().enumerate() {
            answers.push(a.ok_or_else(|| {
                Error::runtime(format!("no answer for probe {i} ({:?})", self.probes[i]))
            })?);
        }
        Ok(Observed { answers })
    }
}
