//! The local transport: scripts run on the controller itself with `/bin/sh`.

use async_trait::async_trait;

use super::{Counters, Exec, ExecOutput, Transport, cmd_len, run_process, wrap_become};
use crate::error::Result;

pub struct Local {
    counters: Counters,
    root: bool,
}

impl Local {
    pub fn new() -> Local {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        Local {
            counters: Counters::default(),
            root,
        }
    }
}

impl Default for Local {
    fn default() -> Self {
        Local::new()
    }
}

#[async_trait]
impl Transport for Local {
    async fn exec(&self, exec: Exec) -> Result<ExecOutput> {
        self.counters.count();
        let (script, stdin) =
            wrap_become(&exec.script, &exec.stdin, exec.become_.as_ref(), self.root);
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(script);
        let sent = cmd_len(&cmd) + stdin.len();
        let out = run_process(cmd, stdin, exec.timeout).await?;
        self.counters
            .traffic(sent, out.stdout.len() + out.stderr.len());
        Ok(out)
    }

    fn describe(&self) -> String {
        "local".into()
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }
}
