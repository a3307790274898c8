//! Unit tests of the text and JSON output.
use super::*;

#[test]
fn unified_diff() {
    let d = Diff::new(
        "/etc/ssh/sshd_config",
        "a\nPermitRootLogin yes\nb\n",
        "a\nPermitRootLogin no\nb\n",
    );
    let text = render_diff(&d, false);
    assert_eq!(
        text,
        "--- before: /etc/ssh/sshd_config\n+++ after: /etc/ssh/sshd_config\n@@ -1,3 +1,3 @@\n a\n-PermitRootLogin yes\n+PermitRootLogin no\n b\n"
    );
}

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Buf(std::sync::Arc<Mutex<Vec<u8>>>);
impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn outcomes(n: usize) -> Vec<HostOutcome> {
    (1..=n)
        .map(|i| {
            let status = match i {
                2 | 5 => Status::Changed,
                4 => Status::Failed,
                _ => Status::Ok,
            };
            let mut o = HostOutcome::new(&format!("h{i}"), status);
            if status == Status::Failed {
                o.msg = Some("boom".into());
            }
            o
        })
        .collect()
}

fn printed(verbosity: u8, n: usize) -> String {
    let buf = Buf::default();
    let r = Reporter::with_output(Format::Text, verbosity, false, false, Box::new(buf.clone()));
    r.hosts(&outcomes(n));
    String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
}

/// A failed no_log loop whose message, items, diff and result all hold the secret.
fn secret_outcome() -> HostOutcome {
    let mut o = HostOutcome::new("h1", Status::Failed);
    o.no_log = true;
    o.msg = Some("bad S3CRET".into());
    o.diffs = vec![Diff::new("/etc/pw", "old S3CRET\n", "new S3CRET\n")];
    o.result = Value::from_pairs([
        ("msg", Value::from("bad S3CRET")),
        ("attempts", Value::from(2)),
    ]);
    o.show_result = true;
    for (label, status) in [("S3CRET-a", Status::Changed), ("S3CRET-b", Status::Failed)] {
        o.items.push(ItemOutcome {
            label: label.into(),
            status,
            msg: Some(format!("{label} failed")),
            diffs: vec![Diff::new("/etc/pw", "S3CRET\n", "x\n")],
            ..Default::default()
        });
    }
    o
}

fn reported(format: Format, verbosity: u8, outcomes: &[HostOutcome]) -> String {
    let buf = Buf::default();
    let r = Reporter::with_output(format, verbosity, true, false, Box::new(buf.clone()));
    r.play("p");
    r.task("t", false);
    r.hosts(outcomes);
    r.recap(&[], &[], false, false);
    String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn no_log_leaves_only_the_status_in_every_format() {
    let o = secret_outcome();
    for verbosity in [0, 1, 3] {
        let text = reported(Format::Text, verbosity, std::slice::from_ref(&o));
        assert!(!text.contains("S3CRET"), "{text}");
        assert!(text.contains(&format!(
            "failed: [h1] (item={CENSORED_ITEM}) => {{\"censored\": \"{CENSORED}\", \"changed\": false}}"
        )), "{text}");
        let json = reported(Format::Json, verbosity, std::slice::from_ref(&o));
        assert!(!json.contains("S3CRET"), "{json}");
    }
    // Without items: the task line, with attempts kept as Ansible keeps them.
    let mut single = secret_outcome();
    single.items.clear();
    let text = reported(Format::Text, 0, &[single]);
    assert!(text.contains(&format!(
        "fatal: [h1]: FAILED! => {{\"attempts\": 2, \"censored\": \"{CENSORED}\", \"changed\": false}}"
    )), "{text}");
    // Many hosts: the aggregated lines hide it too.
    let many: Vec<HostOutcome> = (0..7).map(|_| secret_outcome()).collect();
    assert!(!reported(Format::Text, 0, &many).contains("S3CRET"));
}

#[test]
fn a_no_log_debug_shows_nothing_without_verbosity() {
    let mut o = HostOutcome::new("h1", Status::Ok);
    o.no_log = true;
    o.show_result = true;
    o.result = Value::from_pairs([("msg", Value::from("S3CRET"))]);
    assert!(reported(Format::Text, 0, std::slice::from_ref(&o)).contains("\nok: [h1]\n"));
    let verbose = reported(Format::Text, 1, &[o]);
    assert!(verbose.contains(&format!(
        "ok: [h1] => {{\"censored\": \"{CENSORED}\", \"changed\": false}}"
    )));
}

#[test]
fn many_hosts_share_a_line_per_status_but_failures_stay_whole() {
    assert_eq!(
        printed(0, 7),
        "ok: [h1, h3, h6, h7]\nchanged: [h2, h5]\nfatal: [h4]: FAILED! => {\"msg\":\"boom\"}\n"
    );
    // Few hosts, or -v: one line per host as usual.
    assert_eq!(printed(0, 3).lines().count(), 3);
    assert_eq!(printed(1, 7).lines().count(), 7);
}

fn text_of(verbosity: u8, f: impl FnOnce(&Reporter)) -> String {
    let buf = Buf::default();
    let r = Reporter::with_output(Format::Text, verbosity, true, false, Box::new(buf.clone()));
    f(&r);
    String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
}

fn item(label: &str, status: Status, diff: Option<(&str, &str)>) -> ItemOutcome {
    ItemOutcome {
        label: label.into(),
        status,
        diffs: diff
            .map(|(b, a)| vec![Diff::new(&format!("/o/{label}"), b, a)])
            .unwrap_or_default(),
        ..Default::default()
    }
}

/// ansible-playbook 2.19 with `--diff` over a three-item copy loop prints each item's diff, an
/// empty line, then the item's line; nothing for the task itself.
#[test]
fn each_loop_item_follows_its_diff_as_it_finishes() {
    let items = [
        item("a", Status::Changed, Some(("", "a\n"))),
        item("b", Status::Ok, None),
        item("c", Status::Changed, Some(("old\n", "c\n"))),
    ];
    let want = "--- before: /o/a\n+++ after: /o/a\n@@ -0,0 +1 @@\n+a\n\nchanged: [h] => (item=a)\n\
ok: [h] => (item=b)\n\
--- before: /o/c\n+++ after: /o/c\n@@ -1 +1 @@\n-old\n+c\n\nchanged: [h] => (item=c)\n";
    let mut done = HostOutcome::new("h", Status::Changed);
    done.items = items.to_vec();
    done.items_shown = true;
    // Streamed: each item printed alone, the task's result adds nothing.
    let streamed = text_of(0, |r| {
        for it in &items {
            r.item("h", None, false, it);
        }
        r.hosts(std::slice::from_ref(&done));
    });
    assert_eq!(streamed, want);
    // A loop reported whole (not streamed) prints the same lines.
    done.items_shown = false;
    assert_eq!(text_of(0, |r| r.host(&done)), want);
    // Delegated items name the delegate; no_log items hide label and diff.
    let hidden = text_of(0, |r| r.item("h", Some("d"), true, &items[0]));
    assert_eq!(
        hidden,
        format!("changed: [h -> d] => (item={CENSORED_ITEM})\n")
    );
}

/// Ansible: a failed item is `failed: [h] (item=x) => {...}` and the loop has no line of its
/// own ("...ignoring" under ignore_errors); a loop skipped whole ends with `skipping: [h]`.
#[test]
fn a_loop_prints_a_line_of_its_own_only_as_ansible_does() {
    let mut failed = HostOutcome::new("h", Status::Failed);
    failed.items = vec![item("a", Status::Ok, None), item("b", Status::Failed, None)];
    failed.items[1].msg = Some("x".into());
    failed.ignored = true;
    assert_eq!(
        text_of(0, |r| r.host(&failed)),
        "ok: [h] => (item=a)\nfailed: [h] (item=b) => {\"msg\":\"x\"}\n...ignoring\n"
    );
    failed.items_shown = true;
    assert_eq!(text_of(0, |r| r.host(&failed)), "...ignoring\n");
    // Items fine, the task failed anyway (a notify without its handler): the fatal line.
    let mut handler = HostOutcome::new("h", Status::Failed);
    handler.items = vec![item("a", Status::Changed, None)];
    handler.items_shown = true;
    handler.msg = Some("no handler".into());
    assert_eq!(
        text_of(0, |r| r.host(&handler)),
        "fatal: [h]: FAILED! => {\"msg\":\"no handler\"}\n"
    );
    let mut skipped = HostOutcome::new("h", Status::Skipped);
    skipped.items = vec![item("a", Status::Skipped, None)];
    assert_eq!(
        text_of(0, |r| r.host(&skipped)),
        "skipping: [h] => (item=a)\nskipping: [h]\n"
    );
}

fn skip(msg: &str, unknown: bool, no_log: bool) -> HostOutcome {
    let mut o = HostOutcome::new("golyat-1", Status::Skipped);
    o.msg = Some(msg.into());
    o.unknown = unknown;
    o.no_log = no_log;
    o
}

#[test]
fn skip_lines_say_why_where_it_matters() {
    let line = |v: u8, o: HostOutcome| text_of(v, |r| r.host(&o));
    // prov's chroot skip, without the doubled word; also under no_log (a fixed text of prov's).
    assert_eq!(
        line(0, skip("skipped (chroot)", false, false)),
        "skipping: [golyat-1] (chroot)\n"
    );
    assert_eq!(
        line(0, skip("skipped (chroot)", false, true)),
        "skipping: [golyat-1] (chroot)\n"
    );
    // What a dry run cannot know, with its reason (not a no_log task's).
    let why = "unit crio is not installed yet: an earlier task of this dry run installs packages";
    assert_eq!(
        line(0, skip(why, true, false)),
        format!("skipping: [golyat-1] (unknown until apply: {why})\n")
    );
    assert_eq!(
        line(0, skip("unit S3CRET", true, true)),
        "skipping: [golyat-1] (unknown until apply)\n"
    );
    // A false `when`: Ansible's bare line; its reason only with -v.
    assert_eq!(
        line(0, skip("Conditional result was False", false, false)),
        "skipping: [golyat-1]\n"
    );
    assert!(
        line(1, skip("Conditional result was False", false, false))
            .ends_with(" (Conditional result was False)\n")
    );
    // An unknown loop item says so on its line.
    let mut it = item("a", Status::Skipped, None);
    it.unknown = true;
    it.msg = Some("Command would have run if not in check mode".into());
    assert_eq!(
        text_of(0, |r| r.item("h", None, false, &it)),
        "skipping: [h] => (item=a) (unknown until apply: Command would have run if not in check mode)\n"
    );
    // Many hosts share the line, reason included.
    let many: Vec<HostOutcome> = (0..7).map(|_| skip(why, true, false)).collect();
    let shared = text_of(0, |r| r.hosts(&many));
    assert_eq!(shared.lines().count(), 1, "{shared}");
    assert!(shared.ends_with(&format!("] (unknown until apply: {why})\n")));
}

#[test]
fn json_marks_unknown_results() {
    let mut loop_ = HostOutcome::new("h2", Status::Ok);
    let mut it = item("a", Status::Skipped, None);
    it.unknown = true;
    loop_.items = vec![it, item("b", Status::Ok, None)];
    loop_.unknown = true;
    let doc: serde_json::Value = serde_json::from_str(&reported(
        Format::Json,
        0,
        &[
            skip("x", true, false),
            HostOutcome::new("h3", Status::Ok),
            loop_,
        ],
    ))
    .unwrap();
    let hosts = &doc["plays"][0]["tasks"][0]["hosts"];
    assert_eq!(hosts["golyat-1"]["unknown"], true);
    assert_eq!(hosts["h3"]["unknown"], false);
    assert_eq!(hosts["h2"]["items"][0]["unknown"], true);
    assert_eq!(hosts["h2"]["items"][1]["unknown"], false);
}

/// Ansible's banners are 80 columns wide without a terminal.
#[test]
fn banners_are_ansibles_width() {
    assert_eq!(banner("PLAY [localhost]").trim_start().len(), 80);
    assert_eq!(banner("TASK [x]").trim_start().len(), 80);
    assert!(banner(&"x".repeat(100)).ends_with(" ***"));
}

#[test]
fn a_templating_failure_shows_its_origin_and_line_unless_no_log() {
    let dir = std::env::temp_dir().join(format!("prov-report-origin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pb.yml");
    std::fs::write(&file, "- debug:\n    msg: \"{{ nope }}\"\n").unwrap();
    let mut o = HostOutcome::new("h1", Status::Failed);
    o.msg = Some("'nope' is undefined".into());
    o.origin = Some(Span::new(std::sync::Arc::new(file.clone()), 2, 14));
    let text = reported(Format::Text, 0, std::slice::from_ref(&o));
    let want = format!(
        "fatal: [h1]: FAILED! => {{\"msg\":\"'nope' is undefined\"}}\nOrigin: {}:2:14\n  |\n2 |     msg: \"{{{{ nope }}}}\"\n  |              ^\n",
        file.display()
    );
    assert!(text.contains(&want), "{text}");
    let json = reported(Format::Json, 0, std::slice::from_ref(&o));
    assert!(
        json.contains(&format!("\"origin\": \"{}:2:14\"", file.display())),
        "{json}"
    );
    // no_log: the place, not the line.
    o.no_log = true;
    let text = reported(Format::Text, 0, &[o]);
    assert!(
        text.contains(&format!("Origin: {}:2:14\n", file.display())),
        "{text}"
    );
    assert!(!text.contains("nope"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
