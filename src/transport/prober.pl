# prov's resident prober: one process per host when it has perl (perl-base is essential on
# Debian and Ubuntu), the SSH session's loop or a child of prov in a chroot. The protocol and
# why are in prober.rs beside this file.
# Only perl's builtins: it must run with perl-base alone, and start fast.
use strict;
my ($nonce, $limit) = @ARGV;
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
        my $pid = open(my $h, "-|");
        if (defined $pid && $pid == 0) {
            $SIG{PIPE} = "DEFAULT";
            open(STDIN, "<", $p) or exit 1;
            exec { "sha256sum" } "sha256sum";
            exit 127;
        }
        if (defined $pid) {
            my $sum = <$h>;
            close $h;
            $o .= "\@S $i $sum" if defined $sum;
        }
    }
    return $o;
}

# Answers to queries (src/modules/query.rs), as their shell forms print them: (exit code,
# stdout). prov sends this program with the queries it knows, so every name is answered here
# (a unit test asks each one); a name that is not still gets an answer, a failed one.
sub passwd_line {
    my @u = @_;
    return @u ? join(":", $u[0], "x", $u[2], $u[3], $u[6], $u[7], $u[8]) . "\n" : "";
}
sub query {
    my ($q, @a) = @_;
    if ($q eq "getent" && $a[0] eq "passwd") {
        shift @a;
        return (0, join("", map { passwd_line(/\A[0-9]+\z/ ? getpwuid($_) : getpwnam($_)) } @a));
    }
    if ($q eq "getent" && $a[0] eq "group") {
        shift @a;
        my $o = "";
        for (@a) {
            my @g = /\A[0-9]+\z/ ? getgrgid($_) : getgrnam($_);
            $o .= join(":", $g[0], $g[1], $g[2], join(",", split(/ /, $g[3]))) . "\n" if @g;
        }
        return (0, $o);
    }
    if ($q eq "groups") {
        # As `id -Gn`: the primary group, then every group listing the user (getgrouplist).
        my @u = getpwnam($a[0]);
        return (0, "") unless @u;
        my @names = (scalar(getgrgid($u[3])) // $u[3]);
        setgrent();
        while (my @g = getgrent()) {
            push @names, $g[0] if $g[2] != $u[3] && grep { $_ eq $u[0] } split(/ /, $g[3]);
        }
        endgrent();
        return (0, join(" ", @names) . "\n");
    }
    if ($q eq "shadow") {
        # Root's getpwnam reads the hash from shadow; "x" means shadow has no entry.
        my @u = getpwnam($a[0]);
        return (0, @u && $u[1] ne "x" ? "$u[1]\n" : "");
    }
    if ($q eq "lines") {
        # `while read`: complete lines only.
        my $d = slurp($a[0]);
        return (0, "") unless defined $d;
        $d =~ s/[^\n]*\z//;
        return (0, $d);
    }
    if ($q eq "aptlists") {
        my ($st, $li, $src) = (undef, undef, 0);
        my @m = lstat("/var/lib/apt/periodic/update-success-stamp");
        $st = $m[9] if @m;
        @m = lstat("/var/lib/apt/lists");
        $li = $m[9] if @m;
        my @sources = ("/etc/apt/sources.list");
        if (opendir(my $h, "/etc/apt/sources.list.d")) {
            push @sources, map { "/etc/apt/sources.list.d/$_" } grep { !/\A\./ } readdir $h;
            closedir $h;
        }
        for (@sources) {
            @m = lstat($_);
            $src = $m[9] if @m && $m[9] > $src;
        }
        my $s = defined $st ? $st : defined $li ? $li : 0;
        return (0, "cache_age=" . (time - $s) . "\nsources_newer=" . ($src > $s ? 1 : 0) . "\n");
    }
    if ($q eq "authkeys") {
        my @u = getpwnam($a[0]);
        return (0, "nouser\n") unless @u;
        my $p = defined $a[1] ? $a[1] : "$u[7]/.ssh/authorized_keys";
        my $o = "uid=$u[2]\ngid=$u[3]\nhome=$u[7]\npath=$p\n";
        (my $d = $p) =~ s{/[^/]*\z}{};
        $d = "/" if $d eq "";
        my $attrs = sub { my @s = lstat($_[0]); sprintf("%o|%d|%d", $s[2] & 07777, $s[4], $s[5]) };
        if (-e $p) { $o .= "dir=" . $attrs->($d) . "\nfile=" . $attrs->($p) . "\n" }
        elsif (-e $d) { $o .= "dir=" . $attrs->($d) . "\n" }
        if (-f $p) {
            my $c = slurp($p);
            $o .= "content:\n" . (defined $c ? $c : "");
        }
        return (0, $o);
    }
    return (127, "");
}

out("\@PROV-PROBER\n");
while (defined(my $head = line())) {
    (%user, %group) = ();
    my ($kind, $n) = split(/[ \n]/, $head);
    my ($rc, $err) = (0, "");
    if ($kind eq "P") {
        # Probes: `F i follow content checksum len` + path, `Q i len` + the query's words, then
        # `C len` + the shell script for the command probes.
        my $p = bytes($n);
        last unless defined $p;
        my ($o, $cmds) = ("", "");
        while ($p =~ s/\A([^\n]*)\n//) {
            my @h = split / /, $1;
            if ($h[0] eq "F") { $o .= file(@h[1 .. 4], substr($p, 0, $h[5], "")) }
            elsif ($h[0] eq "Q") {
                my @a = query(split /\0/, substr($p, 0, $h[2], ""), -1);
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
