//! `prov agent start|stop|status` (and the hidden `serve`, which is the agent itself): the
//! command-line face of [`crate::transport::agent`].

use crate::cli::AgentCommand;
use crate::error::Result;
use crate::transport::agent::{client, server};

/// Run an agent command; `release_signals` lets INT/TERM/HUP through (held since start-up).
pub async fn run(cmd: AgentCommand, release_signals: fn()) -> Result<i32> {
    match cmd {
        AgentCommand::Serve { idle } => {
            server::serve(idle, release_signals).await?;
            Ok(0)
        }
        AgentCommand::Start { idle } => {
            release_signals();
            let pid = client::start(idle).await?;
            println!("prov agent running (pid {pid})");
            Ok(0)
        }
        AgentCommand::Stop => {
            release_signals();
            if client::stop().await? {
                println!("prov agent stopped");
            } else {
                println!("no prov agent running");
            }
            Ok(0)
        }
        AgentCommand::Status => {
            release_signals();
            match client::status().await? {
                None => {
                    println!("no prov agent running");
                    Ok(1)
                }
                Some(s) => {
                    println!(
                        "prov agent running (pid {}, socket {}, exits after {}s idle)",
                        s.pid,
                        s.socket.display(),
                        s.idle
                    );
                    for (conn, open) in &s.connections {
                        let state = if *open { "open" } else { "closed" };
                        println!("  {conn} ({state})");
                    }
                    Ok(0)
                }
            }
        }
    }
}
