# prov's resident prober: one process per host when it has perl (perl-base is essential on
# Debian and Ubuntu), the SSH session's loop or a child of prov in a chroot. The protocol and
# why are in prober.rs beside this file.
# Only perl's builtins: it must run with perl-base alone, and start fast. A resident prober
# (below) loads modules for the clock and the host's name when asked, and starts the programs
# instead where they are missing (Time::HiRes is not in perl-base).
use strict;
# `resident`: kept by prov's agent between runs (see the clock and fqdn questions below).
my ($nonce, $limit, $resident) = @ARGV;
$resident = defined $resident && $resident eq "resident";
# The session's scratch directory (removed at the end); scripts get $PROV_TMP inside it.
my $T;
for (1 .. 100) {
    my $t = sprintf("%s/prov.%08x%08x", $ENV{TMPDIR} || "/tmp", rand(2**32), rand(2**32));
    if (mkdir($t, 0700)) { $T = $t; last }
}
exit 2 unless defined $T;
$ENV{PROV_TMP} = "$T/p";
mkdir "$T/p";
my $k = 0;
# A closed channel is an error to clean up after, not a signal to die of.
$SIG{PIPE} = "IGNORE";
my %type = (
    0100000 => "regular file", 0040000 => "directory", 0120000 => "symbolic link",
    0010000 => "fifo", 0140000 => "socket", 0020000 => "character special file",
    0060000 => "block special file",
);
my $in = "";

sub fill { my $r = sysread(STDIN, $in, 65536, length $in); return defined $r && $r > 0 }
sub line {
    my $i;
    until (($i = index($in, "\n")) >= 0) { return undef unless fill() }
    return substr($in, 0, $i + 1, "");
}
sub bytes {
    my $n = shift;
    while (length($in) < $n) { return undef unless fill() }
    return substr($in, 0, $n, "");
}
sub out {
    my $d = shift;
    while (length $d) {
        my $w = syswrite(STDOUT, $d);
        unless (defined $w) { rmtree($T); exit 1 }
        substr($d, 0, $w, "");
    }
}
# A file's bytes: all of them, or at most $n.
sub slurp {
    my ($p, $n) = @_;
    open(my $f, "<:raw", $p) or return undef;
    my $d = "";
    while (!defined $n || length($d) < $n) {
        my $r = sysread($f, $d, defined $n ? $n - length($d) : 65536, length $d);
        last unless $r;
    }
    close $f;
    return $d;
}
sub put {
    my ($p, $d) = @_;
    open(my $f, ">:raw", $p) or return 0;
    print $f $d;
    return close $f;
}

sub rmtree {
    my $d = shift;
    if (-d $d && !-l $d) {
        opendir(my $h, $d) or return;
        rmtree("$d/$_") for grep { $_ ne "." && $_ ne ".." } readdir $h;
        closedir $h;
        rmdir $d;
    } else {
        unlink $d;
    }
}

# Run a script as the shell loop does: /bin/sh, stdin from a file, stdout straight to the
# channel, stderr to a file new for each script (a process the script left running may still
# write to the old one). The script is an argument unless it is too long for one. Returns the
# exit code (128 + signal when killed) and the stderr.
sub run {
    my ($script, $stdin) = @_;
    mkdir "$T/p" unless -d "$T/p";
    $k++;
    my @sh = ("sh", "-c", $script);
    if (length($script) > 65536) {
        put("$T/s", $script) or return (127, "cannot write $T/s: $!\n");
        @sh = ("sh", "$T/s");
    }
    my $input = "/dev/null";
    if (length $stdin) { put("$T/i", $stdin) or return (127, "cannot write $T/i: $!\n"); $input = "$T/i" }
    my $pid = fork;
    return (127, "fork: $!\n") unless defined $pid;
    if ($pid == 0) {
        $SIG{PIPE} = "DEFAULT";
        open(STDIN, "<", $input) and open(STDERR, ">", "$T/e.$k") or exit 127;
        exec { "/bin/sh" } @sh;
        syswrite(STDERR, "cannot run /bin/sh: $!\n");
        exit 127;
    }
    waitpid($pid, 0);
    my $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    my $err = slurp("$T/e.$k");
    unlink "$T/e.$k";
    return ($rc, defined $err ? $err : "");
}

# User and group names by id, for one frame (a later task may add users).
my (%user, %group);
# Files split into paragraphs (dpkg's status), by path: [tag, paragraphs, recent]. Kept across
# frames while the tag (size, mtime, inode, ctime) stays, unless the file had changed within a
# second of being split (`recent`): a change in the same second could keep its tag.
my %para;
# GNU stat's `%F|%a|%u|%g|%U|%G|%s|%Y|%X|%d|%i` (see script.rs).
sub fields {
    my @s = @_;
    my $t = $type{$s[2] & 0170000};
    $t = "unknown" unless defined $t;
    $t = "regular empty file" if $t eq "regular file" && $s[7] == 0;
    $user{$s[4]} = getpwuid($s[4]) unless exists $user{$s[4]};
    $group{$s[5]} = getgrgid($s[5]) unless exists $group{$s[5]};
    my ($u, $g) = ($user{$s[4]}, $group{$s[5]});
    return join("|", $t, sprintf("%o", $s[2] & 07777), $s[4], $s[5],
        defined $u ? $u : "UNKNOWN", defined $g ? $g : "UNKNOWN", $s[7], $s[9], $s[8], $s[0], $s[1]);
}

# The records probe_script prints for one file.
sub file {
    my ($i, $follow, $content, $checksum, $p) = @_;
    my @s = lstat($p);
    return "\@N $i\n" unless @s;
    my $link = ($s[2] & 0170000) == 0120000;
    if ($follow && $link) { my @t = stat($p); @s = @t if @t }
    my $o = "\@F $i " . fields(@s) . "\n";
    if ($link) { my $t = readlink($p); $o .= "\@L $i " . (defined $t ? $t : "") . "\n" }
    return $o unless ($content || $checksum) && ($s[2] & 0170000) == 0100000 && -r $p;
    my $n = $s[7];
    if ($content) {
        my $d;
        # Pseudo files report sizes that are not their content's: measure.
        if ($p =~ m{^/(proc|sys)/}) { $d = slurp($p); $n = length $d if defined $d }
        if ($n <= $limit) {
            $d = slurp($p, $n) unless defined $d;
            $o .= "\@C $i $n\n" . (defined $d ? $d : "") . "\n\@E $i\n";
        }
    }
    if ($checksum && (!$content || $n > $limit)) {
        # `sha256sum < file`, as the shell prints it ("<hex>  -").
        my (undef, $sum) = capture_in($p, 0, "sha256sum");
        $o .= "\@S $i $sum" if length $sum;
    }
    return $o;
}

# Run a program (no shell), stdin from a file: (exit code, stdout). Its stderr joins stdout
# when $merge (`2>&1`), else is dropped (`2>/dev/null`).
sub capture_in {
    my ($stdin, $merge, @argv) = @_;
    my $pid = open(my $h, "-|");
    return (127, "") unless defined $pid;
    if ($pid == 0) {
        $SIG{PIPE} = "DEFAULT";
        open(STDIN, "<", $stdin) and open(STDERR, $merge ? ">&STDOUT" : ">/dev/null") or exit 127;
        exec { $argv[0] } @argv;
        exit 127;
    }
    local $/;
    my $o = <$h>;
    close $h;
    return ($? & 127 ? 128 + ($? & 127) : $? >> 8, defined $o ? $o : "");
}

# Answers to primitives (src/host/primitive.rs), as their shell forms print them: (exit code,
# stdout). What they mean (dpkg's database, unit files, the facts) is the controller's business.
sub pwline {
    my @u = @_;
    return @u ? join(":", $u[0], "x", $u[2], $u[3], $u[6], $u[7], $u[8]) . "\n" : "";
}
sub grline {
    my @g = @_;
    return @g ? join(":", $g[0], $g[1], $g[2], join(",", split(/ /, $g[3]))) . "\n" : "";
}
# Directories' entries, listed once per frame (the memo patterns list /usr/lib several times).
my %listing;
# The existing paths a pattern matches: `*` matches within a name, never a leading dot.
sub matches {
    my @parts = split m{/}, shift, -1;
    my @paths = (shift @parts);
    for my $c (@parts) {
        if (index($c, "*") < 0) { @paths = map { "$_/$c" } @paths; next }
        my $re = join("[^/]*", map { quotemeta } split(/\*/, $c, -1));
        my @next;
        for my $d (@paths) {
            my $e = $listing{$d} ||= do {
                opendir(my $h, $d eq "" ? "/" : $d) or next;
                my @e = grep { !/\A\./ } readdir $h;
                closedir $h;
                \@e;
            };
            push @next, map { "$d/$_" } grep { /\A$re\z/s } @$e;
        }
        @paths = @next;
    }
    return sort grep { my @s = lstat($_); @s } @paths;
}
# `od -An -v -tx1`'s text for these bytes.
sub od {
    my $h = unpack("H*", shift);
    my $o = "";
    for (my $i = 0; $i < length $h; $i += 32) { $o .= (substr($h, $i, 32) =~ s/(..)/ $1/gr) . "\n" }
    return $o;
}
# Runs kept for as long as what they depend on stays (`runmemo`): key -> [state, rc, stdout].
my %memo;
# The state a kept run depends on: the PATH directories, the program's file as PATH finds it,
# and what the patterns match; lstat and stat of each. With the newest of their times.
sub state_of {
    my ($prog, @pats) = @_;
    my @dirs = map { $_ eq "" ? "." : $_ } split /:/, defined $ENV{PATH} ? $ENV{PATH} : "", -1;
    my @paths = @dirs;
    my $found;
    if (index($prog, "/") >= 0) { push @paths, $prog; $found = -e $prog }
    else { for (@dirs) { if (-f "$_/$prog" && -x _) { push @paths, "$_/$prog"; $found = 1; last } } }
    # A program that is not there fails to start whatever its files say: only PATH matters.
    push @paths, matches($_) for $found ? @pats : ();
    my ($s, $newest) = ("", 0);
    for my $p (@paths) {
        for my $t ([lstat $p], [stat $p]) {
            $s .= @$t ? join(",", @$t[0 .. 5, 7, 9, 10]) . "|" : "-|";
            for (@$t[9, 10]) { $newest = $_ if @$t && $_ > $newest }
        }
        $s .= "$p\0";
    }
    return ($s, $newest);
}
# The clock as `date +%Y|%m|%A|%w|%W|%d|%H|%M|%S|%s|%N|%Z|%z` prints it with LC_ALL=C (the
# names in English whatever the locale; the zone's name and offset from strftime). The zone is
# read again each time, as a new `date` would: glibc keeps a zone file it read while its inode
# and mtime (in seconds) stay, and never looks again while TZ stays, so TZ is switched to a
# rule without a file and back first.
my @days = qw(Sunday Monday Tuesday Wednesday Thursday Friday Saturday);
sub clock {
    eval { require POSIX; require Time::HiRes; 1 } or return undef;
    { local $ENV{TZ} = "UTC0"; POSIX::tzset() }
    POSIX::tzset();
    my ($s, $us) = Time::HiRes::gettimeofday();
    my @t = localtime($s);
    return (0, sprintf("%d|%02d|%s|%d|%02d|%02d|%02d|%02d|%02d|%d|%09d|%s\n", $t[5] + 1900, $t[4] + 1,
        $days[$t[6]], $t[6], int(($t[7] + 7 - ($t[6] + 6) % 7) / 7), $t[3], $t[2], $t[1], $t[0],
        $s, $us * 1000, POSIX::strftime("%Z|%z", @t)));
}
# `hostname -f`: the kernel's host name, canonical through getaddrinfo (glibc reads /etc/hosts
# at each lookup, and resolv.conf again when it changed). glibc before 2.33 does not read a
# changed /etc/nsswitch.conf again in a running process, nor does any read host.conf again:
# once either differs from what it was at the first lookup, `hostname` is asked instead.
my $nss;
sub fqdn {
    eval { require POSIX; require Socket; 1 } or return undef;
    my $now = join("\0", map { my $d = slurp($_); defined $d ? "+$d" : "-" }
        "/etc/nsswitch.conf", "/etc/host.conf");
    $nss = $now unless defined $nss;
    return undef if $nss ne $now;
    my $h = (POSIX::uname())[1];
    my ($err, @r) = Socket::getaddrinfo($h, undef,
        { flags => Socket::AI_CANONNAME(), socktype => Socket::SOCK_DGRAM() });
    return (1, "") if $err || !@r;
    my $c = $r[0]{canonname};
    return (0, (defined $c ? $c : "(null)") . "\n");
}
# The mount points Primitive::Statfs's shell form hands to `stat -f` (see primitive.rs): the
# table's lines as `read -r d m t r` splits them, kept when the type is not `none` and the
# device is a path or `host:/path`; octal escapes (`\040`) decoded.
sub mount_points {
    my $f = -e "/etc/mtab" ? "/etc/mtab" : "/proc/mounts";
    open(my $h, "<", $f) or return ();
    my @m;
    while (my $l = <$h>) {
        # `read` gives up on a last line without its newline.
        last unless $l =~ /\n\z/;
        my ($d, $m, $t) = split " ", $l, 4;
        next if defined $t && $t eq "none";
        next unless defined $d && ($d =~ m{\A/} || index($d, ":/") >= 0 || $d =~ /\A\\134/);
        $m = "" unless defined $m;
        $m =~ s/\\([0-7]{3})/chr(oct($1) & 255)/ge;
        push @m, $m;
    }
    return @m;
}
sub ask {
    my ($q, @a) = @_;
    if ($q eq "statfs") {
        my @m = mount_points();
        return (0, "") unless @m;
        return ask("run", "", "", 0, "stat", "-f", "-c", "%S %s %b %a %c %d %n", "--", @m);
    }
    # Asked with the program that answers them where the prober is not resident.
    if ($q eq "clock" || $q eq "fqdn") {
        my @r = !$resident ? () : $q eq "clock" ? clock() : fqdn();
        return defined $r[0] ? @r : ask("run", "", "", 0, @a);
    }
    if ($q eq "read") {
        my ($p, $limit, $unless, $field, $values) = @a;
        my @s = stat($p);
        return (1, "") unless @s && -f _ && -r _;
        my $t = "$s[7]:$s[9]:$s[1]:$s[10]";
        return (3, "") if $t eq $unless;
        unless (length $field) {
            my $d = slurp($p, $limit);
            return defined $d ? (0, "$t\n$d") : (1, "");
        }
        # awk's paragraph mode: records between runs of empty lines.
        unless ($para{$p} && $para{$p}[0] eq $t) {
            my $d = slurp($p);
            return (1, "") unless defined $d;
            $para{$p} = [$t, [ grep { length } map { s/\A\n+//r =~ s/\n+\z//r } split /\n\n+/, $d ],
                $s[9] >= time - 1 || $s[10] >= time - 1, {}, {}];
        }
        my ($paras, $index, $answers) = @{ $para{$p} }[1, 3, 4];
        my $o = $answers->{"$field\0$values"};
        unless (defined $o) {
            # The paragraphs by their first line's value, once per field; then the values
            # asked for, kept as the answer to the same question while the file stays.
            my $by = $index->{$field} ||= do {
                my %h;
                for my $k (0 .. $#$paras) {
                    push @{ $h{$1} }, $k if $paras->[$k] =~ /\A\Q$field\E: ([^\n]*)/;
                }
                \%h;
            };
            my @hits = sort { $a <=> $b } map { @{ $by->{$_} } } grep { index($values, " $_ ") >= 0 } keys %$by;
            $o = $answers->{"$field\0$values"} = join("", map { "$paras->[$_]\n\n" } @hits);
        }
        return (0, "$t\n$o");
    }
    return (0, join("", map { fields(lstat($_)) . "\n" . length($_) . "\n$_\n" } matches($a[0])))
        if $q eq "glob";
    if ($q eq "readall") {
        my $o = "";
        for (matches($a[0])) {
            next unless -f $_ && -r _;
            my $d = slurp($_, $a[1]);
            $d = "" unless defined $d;
            $o .= length($_) . "\n$_\n" . length($d) . "\n$d\n";
        }
        return (0, $o);
    }
    return (0, pwline($a[0] =~ /\A[0-9]+\z/ ? getpwuid($a[0]) : getpwnam($a[0]))) if $q eq "passwd";
    return (0, grline($a[0] =~ /\A[0-9]+\z/ ? getgrgid($a[0]) : getgrnam($a[0]))) if $q eq "group";
    if ($q eq "groups") {
        my $o = "";
        setgrent();
        while (my @g = getgrent()) { $o .= grline(@g) }
        endgrent();
        return (0, $o);
    }
    if ($q eq "shadow") {
        # Root's getpwnam reads the hash from shadow; "x" means shadow has no entry.
        my @u = getpwnam($a[0]);
        return (0, @u && $u[1] ne "x" ? "$u[1]\n" : "");
    }
    if ($q eq "me") {
        my $n = getpwuid($>);
        return (0, "$> " . (defined $n && length $n ? $n : $>) . "\n");
    }
    return exists $ENV{$a[0]} ? (0, $ENV{$a[0]}) : (1, "") if $q eq "env";
    return (0, time . "\n") if $q eq "now";
    if ($q eq "which") {
        my $o = "";
        for my $p (@a) {
            for my $d (split /:/, defined $ENV{PATH} ? $ENV{PATH} : "", -1) {
                my $f = ($d eq "" ? "." : $d) . "/$p";
                if (-f $f && -x _) { $o .= "$f\n"; last }
            }
        }
        return (0, $o);
    }
    if ($q eq "hex" || $q eq "environ") {
        my $p = $q eq "hex" ? $a[0] : "/proc/self/environ";
        my $d = -d $p ? undef : slurp($p);
        return defined $d ? (0, od($d)) : (1, "");
    }
    if ($q eq "run" || $q eq "runmemo") {
        my @pats;
        if ($q eq "runmemo") { my $n = shift @a; @pats = splice(@a, 0, $n) }
        my ($dir, $stdin, $merge, @argv) = @a;
        return (0, "") if length $dir && !-d $dir;
        my ($key, $state, $newest) = (join("\0", @a, "", @pats));
        if (@pats && @argv) {
            ($state, $newest) = state_of($argv[0], @pats);
            my $m = $memo{$key};
            return @$m[1, 2] if $m && $m->[0] eq $state;
        }
        local $ENV{LC_ALL} = "C";
        my @r = capture_in(length $stdin ? $stdin : "/dev/null", $merge, @argv);
        # The state was taken before the run: a change during it shows next time. A change
        # within the same second as the newest time would not: keep only older states.
        if (defined $state) {
            if ($newest < time - 1) { $memo{$key} = [$state, @r] } else { delete $memo{$key} }
        }
        return @r;
    }
    return (127, "");
}

out("\@PROV-PROBER\n");
while (defined(my $head = line())) {
    (%user, %group, %listing) = ();
    $para{$_}[2] and delete $para{$_} for keys %para;
    my ($kind, $n) = split(/[ \n]/, $head);
    my ($rc, $err) = (0, "");
    if ($kind eq "P") {
        # Probes: `F i follow content checksum len` + path, `Q i len` + a primitive's words, then
        # `C len` + the shell script for the command probes.
        my $p = bytes($n);
        last unless defined $p;
        my ($o, $cmds) = ("", "");
        while ($p =~ s/\A([^\n]*)\n//) {
            my @h = split / /, $1;
            if ($h[0] eq "F") { $o .= file(@h[1 .. 4], substr($p, 0, $h[5], "")) }
            elsif ($h[0] eq "Q") {
                my @a = ask(split /\0/, substr($p, 0, $h[2], ""), -1);
                $o .= "\@X $h[1] $a[0] " . length($a[1]) . " 0\n$a[1]\n";
            }
            elsif ($h[0] eq "C") { $cmds .= substr($p, 0, $h[1], "") }
        }
        out($o);
        ($rc, $err) = run($cmds, "") if length $cmds;
    } else {
        my $script = bytes($kind);
        my $stdin = bytes($n);
        last unless defined $script && defined $stdin;
        ($rc, $err) = run($script, $stdin);
    }
    out("\n$nonce-\n$err\n$nonce $rc\n");
}
rmtree($T);
