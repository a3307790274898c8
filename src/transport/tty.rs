//! The terminal shared by prov's output and what else is written on it (an SSH key's passphrase
//! question, the message of an interrupt): what draws on the terminal (the reporter's live line)
//! registers a hook with [`on_prompt`], and steps aside while such text is written ([`Prompt`]).

use std::sync::Mutex;

type Hook = Box<dyn Fn(bool) + Send + Sync>;

static HOOK: Mutex<Option<Hook>> = Mutex::new(None);

/// Call `hook(true)` before a question is asked on the terminal, `hook(false)` once answered.
/// The latest registration wins.
pub fn on_prompt(hook: Hook) {
    *HOOK.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
}

fn call(asking: bool) {
    if let Some(hook) = HOOK.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        hook(asking);
    }
}

/// A question on the terminal, from [`Prompt::begin`] until dropped.
pub struct Prompt(());

impl Prompt {
    pub fn begin() -> Prompt {
        call(true);
        Prompt(())
    }
}

impl Drop for Prompt {
    fn drop(&mut self) {
        call(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI32, Ordering};

    #[test]
    fn the_hook_hears_the_question_and_the_answer() {
        let seen = Arc::new(AtomicI32::new(0));
        let s = seen.clone();
        on_prompt(Box::new(move |asking| {
            s.fetch_add(if asking { 1 } else { 10 }, Ordering::SeqCst);
        }));
        let p = Prompt::begin();
        assert_eq!(seen.load(Ordering::SeqCst), 1);
        drop(p);
        assert_eq!(seen.load(Ordering::SeqCst), 11);
    }
}
