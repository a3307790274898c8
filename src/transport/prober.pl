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
        my (undef, $sum) = capture_in($p, 0, "sha256sum");
        $o .= "\@S $i $sum" if length $sum;
    }
    return $o;
}

# Run a program (no shell), stdin from /dev/null: (exit code, stdout). Its stderr joins stdout
# when $merge (`2>&1`), else is dropped (`2>/dev/null`).
sub capture { return capture_in("/dev/null", @_) }
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

# What `$(...)` keeps of a command's output: all but the trailing newlines.
sub subst { my (undef, $o) = capture(0, @_); $o =~ s/\n+\z//; return $o }

# `command -v NAME` for a program: somewhere on PATH.
sub in_path {
    for my $d (split /:/, defined $ENV{PATH} ? $ENV{PATH} : "", -1) {
        my $f = ($d eq "" ? "." : $d) . "/$_[0]";
        return 1 if -f $f && -x _;
    }
    return 0;
}

# Facts (src/facts.rs): the facts script's output, line for line, from files and the few
# programs it runs (`hostname -f`, `ip`). Arguments: network, hardware, chroot (0 or 1).
sub facts {
    my ($net, $hw, $chroot) = @_;
    local $ENV{LC_ALL} = "C";
    my $o = "";
    # `IFS= read -r v < FILE`: the first line, nothing when unreadable.
    my $r1 = sub {
        my $d = first_line(slurp($_[1]) // "");
        $o .= "$_[0]=$d\n";
        return $d;
    };
    if ($chroot || (defined $ENV{debian_chroot} && length $ENV{debian_chroot})) { $o .= "is_chroot=1\n" }
    elsif (my @p = stat("/proc/1/root/.")) {
        my @r = stat("/");
        $o .= "is_chroot=" . (@r && $r[0] == $p[0] && $r[1] == $p[1] ? 0 : 1) . "\n";
    } else {
        my @r = stat("/");
        $o .= "is_chroot=" . (@r && $r[1] == 2 ? 0 : 1) . "\n";
    }
    if (-r "/proc/sys/kernel/arch") { $r1->("uname_m", "/proc/sys/kernel/arch") }
    else { $o .= "uname_m=" . subst("uname", "-m") . "\n" }
    if (-r "/proc/sys/kernel/osrelease") {
        $r1->("kernel", "/proc/sys/kernel/osrelease");
        $r1->("kernel_version", "/proc/sys/kernel/version");
        $r1->("system", "/proc/sys/kernel/ostype");
        $r1->("nodename", "/proc/sys/kernel/hostname");
    } else {
        $o .= "kernel=" . subst("uname", "-r") . "\nkernel_version=" . subst("uname", "-v")
            . "\nsystem=" . subst("uname", "-s") . "\nnodename=" . subst("uname", "-n") . "\n";
    }
    $r1->("etc_hostname", "/etc/hostname");
    $o .= "fqdn=" . subst("hostname", "-f") . "\n";
    my $name = getpwuid($<);
    $o .= "user_uid=$<\nuser_id=" . (defined $name && length $name ? $name : $<) . "\n";
    $r1->("debian_version", "/etc/debian_version");
    if ($r1->("proc1", "/proc/1/comm") ne "systemd") {
        my $l = readlink("/sbin/init");
        $o .= "init_link=" . (defined $l ? $l : "") . "\n";
    }
    $o .= "run_systemd=1\n" if -d "/run/systemd/system";
    $o .= "has_systemd=1\n" if -x "/lib/systemd/systemd" || -x "/usr/lib/systemd/systemd";
    $o .= "pkg_mgr=apt\n" if in_path("apt-get");
    $o .= "pkg_mgr=dnf\n" if in_path("dnf");
    $o .= "pkg_mgr=apk\n" if in_path("apk");
    $r1->("machine_id", "/etc/machine-id");
    for my $f ("/etc/os-release", "/usr/lib/os-release") {
        next unless -r $f;
        my $d = slurp($f);
        $d = "" unless defined $d;
        my @l = split /\n/, $d, -1;
        pop @l if @l && $l[-1] eq "";
        $o .= "osr_$_\n" for @l;
        last;
    }
    if ($chroot) {
        # The root's own architecture: its /bin/sh's ELF machine field.
        my $e = "";
        if (open(my $f, "<:raw", "/bin/sh")) { seek($f, 18, 0) and read($f, $e, 2); close $f }
        $o .= "elf=" . unpack("H*", $e) . "\nchroot_target=1\n";
    }
    if ($hw) {
        for (split /\n/, (slurp("/proc/meminfo") // "")) {
            my ($k, $v) = split " ";
            $o .= "memtotal_kb=$v\n" if $k eq "MemTotal:";
            $o .= "memfree_kb=$v\n" if $k eq "MemFree:";
            $o .= "swaptotal_kb=$v\n" if $k eq "SwapTotal:";
        }
        my ($n, $cores, %ids) = (0, "");
        for (split /\n/, (slurp("/proc/cpuinfo") // "")) {
            my ($k, $v) = split /:/, $_, 2;
            $v = "" unless defined $v;
            $v =~ s/\A //;
            $n++ if $k =~ /\Aprocessor/;
            $ids{$v} = 1 if $k =~ /\Aphysical id/;
            $cores = $v if $k =~ /\Acpu cores/ && $cores eq "";
        }
        my $u = (split " ", (slurp("/proc/uptime") // ""))[0];
        # `set -- $ids`: the words of the distinct ids.
        my $sockets = () = map { split " " } keys %ids;
        $o .= "vcpus=$n\ncpu_sockets=$sockets\ncpu_cores=$cores\nuptime="
            . (defined $u ? $u : "") . "\n";
    }
    if ($net) {
        my @i;
        if (opendir(my $h, "/sys/class/net")) {
            my @e = readdir $h;
            closedir $h;
            @i = grep { !/\A\./ && -e "/sys/class/net/$_" } sort @e;
        }
        $o .= "interfaces=" . join("", map { "$_ " } @i) . "\n";
        if (in_path("ip")) {
            put("$T/i", "route show default\naddr show\n");
            my (undef, $ip) = capture_in("$T/i", 0, "ip", "-4", "-o", "-batch", "-");
            my $route;
            for my $l (split /\n/, $ip) {
                if ($l =~ /\Adefault/) { $o .= "route=$l\n" unless $route++ }
                else { my @w = split " ", $l; $o .= "addr=$w[1] $w[3]\n" if @w >= 4 }
            }
            for (@i) {
                $o .= "mac=$_ " . first_line(slurp("/sys/class/net/$_/address") // "") . "\n";
            }
        } else {
            for (split /\n/, (slurp("/proc/net/route") // "")) {
                my ($ifc, $dst, $gw) = split " ";
                if (defined $dst && $dst eq "00000000") { $o .= "procroute=$ifc $gw\n"; last }
            }
        }
    }
    return $o;
}

# What `$(...)` and then `${v%%<newline>*}` keep of a command's output: its first line.
sub first_line { my $v = shift; $v =~ s/\n.*//s; return $v }

# `systemctl is-enabled`, for the one answer it can be sure of without systemctl: "enabled",
# for a plain unit file (not masked, an alias, linked, generated or transient: those are
# symlinks, empty files or other directories) with a symlink of its name in one of
# /etc/systemd/system's .wants or .requires directories, which systemd's
# unit_file_lookup_state reports as enabled. Anything else is systemctl's to say.
my @unit_path = qw(/etc/systemd/system.control /run/systemd/system.control
    /run/systemd/transient /run/systemd/generator.early /etc/systemd/system
    /etc/systemd/system.attached /run/systemd/system /run/systemd/system.attached
    /run/systemd/generator /usr/local/lib/systemd/system /lib/systemd/system
    /usr/lib/systemd/system /run/systemd/generator.late);
my %unit_home = map { $_ => 1 } qw(/etc/systemd/system /usr/local/lib/systemd/system
    /lib/systemd/system /usr/lib/systemd/system);
sub unit_enabled {
    my $u = shift;
    return 0 if exists $ENV{SYSTEMD_UNIT_PATH};
    # systemctl's name mangling: no unit type suffix means a service.
    $u .= ".service"
        unless $u =~ /\.(service|socket|target|device|mount|automount|swap|timer|path|slice|scope)\z/;
    return 0 unless $u =~ /\A[A-Za-z0-9:_.\\-]+\z/;
    for my $d (@unit_path) {
        my @s = lstat("$d/$u");
        next unless @s;
        last unless $unit_home{$d} && ($s[2] & 0170000) == 0100000 && $s[7] > 0;
        my $c = "/etc/systemd/system";
        opendir(my $h, $c) or return 0;
        my @w = grep { /\.(wants|requires)\z/ } readdir $h;
        closedir $h;
        for (@w) {
            my @t = lstat("$c/$_");
            return 1 if @t && ($t[2] & 0170000) == 0040000 && -l "$c/$_/$u";
        }
        return 0;
    }
    return 0;
}

# dpkg's database files, read at most once per frame.
my %dpkg;
sub dpkg_file {
    my $f = shift;
    unless (exists $dpkg{$f}) { my $d = slurp("/var/lib/dpkg/$f"); $dpkg{$f} = defined $d ? $d : "" }
    return \$dpkg{$f};
}
# dpkg reads its journal (/var/lib/dpkg/updates) over the status file: with one pending, only
# dpkg can say.
sub dpkg_settled {
    opendir(my $h, "/var/lib/dpkg/updates") or return 0;
    my @j = grep { $_ ne "." && $_ ne ".." } readdir $h;
    closedir $h;
    return !@j && -f "/var/lib/dpkg/status";
}
# The paragraphs for package $n in a database file, each as { field => value }.
sub dpkg_paragraphs {
    my ($db, $n) = @_;
    my @p;
    while ($$db =~ /^Package: \Q$n\E\n/mg) {
        my $s = $-[0];
        my $e = index($$db, "\n\n", $s);
        $e = length $$db if $e < 0;
        my %f = substr($$db, $s, $e - $s) =~ /^([A-Za-z-]+): ([^\n]*)/mg;
        push @p, \%f;
        pos($$db) = $e;
    }
    return @p;
}
my %want = (unknown => "u", install => "i", hold => "h", deinstall => "r", purge => "p");
my %eflag = (ok => " ", reinstreq => "R");
my %state = ("not-installed" => "n", "config-files" => "c", "half-installed" => "H",
    unpacked => "U", "half-configured" => "F", "triggers-awaited" => "W",
    "triggers-pending" => "t", installed => "i");
# The `dpkg-query -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\t${Status}\n'` line of
# package $n from the status file; undef when only dpkg can say (not a plain package name, not
# exactly one instance, another architecture in the available file, a status not known here).
sub dpkg_line {
    my ($st, $av, $n) = @_;
    return undef unless $n =~ /\A[a-z0-9][a-z0-9+.-]+\z/;
    my @p = dpkg_paragraphs($st, $n);
    return undef unless @p == 1;
    my %f = %{ $p[0] };
    my ($w, $e, $s) = split / /, $f{Status} // "";
    my $arch = $f{Architecture} // "";
    return undef if grep { ($_->{Architecture} // "") ne $arch } dpkg_paragraphs($av, $n);
    return undef unless defined $s && exists $want{$w} && exists $eflag{$e} && exists $state{$s};
    return "$n\t" . ($f{Version} // "") . "\t$want{$w}$state{$s}$eflag{$e}\t$w $e $s\n";
}
# `dpkg-query -W` of NAMES in that format: from the status file when every name has a line
# there (sorted by name, as dpkg sorts, each once); else dpkg-query's.
sub dpkg_query {
    my @names = @_;
    if (@names && dpkg_settled()) {
        my ($st, $av) = (dpkg_file("status"), dpkg_file("available"));
        my %line;
        for (@names) { $line{$_} = dpkg_line($st, $av, $_) unless exists $line{$_} }
        return join("", map { $line{$_} } sort keys %line) unless grep { !defined } values %line;
    }
    my (undef, $o) = capture(0, "dpkg-query", "-W",
        '-f=${Package}\t${Version}\t${db:Status-Abbrev}\t${Status}\n', @names);
    return $o;
}
# `dpkg --get-selections '*'`: every package whose selection is known, sorted by name, the
# name architecture-qualified where dpkg qualifies it (Multi-Arch: same, or a foreign
# architecture; the native one is dpkg's own), tabs up to column 48, the selection. From the
# status file when every package has one instance; else dpkg's.
sub dpkg_selections {
    if (dpkg_settled()) {
        my $st = dpkg_file("status");
        my (%seen, @rows, $native, $f);
        # One pass over the fields this needs (dpkg writes Package first in a paragraph).
        pos($$st) = undef;
        while ($$st =~ /^(Package|Status|Architecture|Multi-Arch): ([^\n]*)/mg) {
            if ($1 eq "Package") {
                @rows = (), last if $seen{$2}++;
                push @rows, $f = { Package => $2 };
            } elsif (defined $f) {
                $f->{$1} = $2;
            }
        }
        # The native architecture is dpkg's own, unless foreign ones are configured (a
        # crossgrade can leave them apart): then dpkg says.
        for (@rows) { $native = $_->{Architecture} if $_->{Package} eq "dpkg" }
        undef $native if -e "/var/lib/dpkg/arch";
        if (@rows && defined $native) {
            my $o = "";
            for my $f (sort { $a->{Package} cmp $b->{Package} } @rows) {
                my ($w) = split / /, (defined $f->{Status} ? $f->{Status} : "");
                next if !defined $w || $w eq "unknown";
                my $arch = defined $f->{Architecture} ? $f->{Architecture} : "";
                my $ma = defined $f->{"Multi-Arch"} ? $f->{"Multi-Arch"} : "";
                my $n = $f->{Package};
                $n .= ":$arch" if $arch ne "" && ($ma eq "same" || ($arch ne $native && $arch ne "all"));
                my $tabs = 6 - (length($n) >> 3);
                $o .= $n . ("\t" x ($tabs < 1 ? 1 : $tabs)) . "$w\n";
            }
            return $o;
        }
    }
    my (undef, $o) = capture(0, "dpkg", "--get-selections", "*");
    return $o;
}

# SHA-1 (FIPS 180-4) of a string, in hex. About 1 ms per KiB here, as much as starting
# `sha1sum`: used for files up to 1 KiB (the scripts and configs `stat` is pointed at).
sub sha1 {
    my $m = shift;
    my @h = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0);
    my $l = length $m;
    $m .= "\x80" . ("\0" x ((55 - $l) % 64)) . pack("NN", $l >> 29, ($l << 3) & 0xffffffff);
    for (my $o = 0; $o < length $m; $o += 64) {
        my @w = unpack("N16", substr($m, $o, 64));
        for my $t (16 .. 79) {
            my $x = $w[$t - 3] ^ $w[$t - 8] ^ $w[$t - 14] ^ $w[$t - 16];
            $w[$t] = (($x << 1) | ($x >> 31)) & 0xffffffff;
        }
        my ($a, $b, $c, $d, $e) = @h;
        for my $t (0 .. 79) {
            my $f = $t < 20 ? (($b & $c) | (~$b & $d)) + 0x5A827999
                : $t < 40 ? ($b ^ $c ^ $d) + 0x6ED9EBA1
                : $t < 60 ? (($b & $c) | ($b & $d) | ($c & $d)) + 0x8F1BBCDC
                : ($b ^ $c ^ $d) + 0xCA62C1D6;
            ($a, $b, $c, $d, $e) = (((($a << 5) | ($a >> 27)) + $f + $e + $w[$t]) & 0xffffffff,
                $a, (($b << 30) | ($b >> 2)) & 0xffffffff, $c, $d);
        }
        $h[0] = ($h[0] + $a) & 0xffffffff; $h[1] = ($h[1] + $b) & 0xffffffff;
        $h[2] = ($h[2] + $c) & 0xffffffff; $h[3] = ($h[3] + $d) & 0xffffffff;
        $h[4] = ($h[4] + $e) & 0xffffffff;
    }
    return unpack("H*", pack("N5", @h));
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
    if ($q eq "unit") {
        my ($rc, $e) = unit_enabled($a[0]) ? (0, "enabled") : capture(1, "systemctl", "is-enabled", $a[0]);
        my $o = "enabled_rc=$rc\nenabled=" . first_line($e) . "\n";
        if (-d "/run/systemd/system") {
            my (undef, $s) = capture(0, "systemctl", "is-active", $a[0]);
            return (0, $o . "booted=yes\nactive=" . first_line($s) . "\n");
        }
        return (0, $o . "booted=no\nactive=inactive\n");
    }
    if ($q eq "packages") {
        # The names, then "-", or "+", ALWAYS and the wanted name[=version]s.
        my @names;
        push @names, shift @a while @a && $a[0] ne "-" && $a[0] ne "+";
        my $with = shift(@a) eq "+";
        (my $lines = dpkg_query(@names)) =~ s/\n+\z//;
        my $o = "$lines\n";
        return (0, $o) unless $with;
        my $need = shift @a;
        for my $w (@a) {
            my ($wn, $wv) = split /=/, $w, 2;
            my $f = 0;
            for (split /\n/, $lines) {
                # `IFS=<tab> read -r n v a _r`: runs of tabs separate, edges are trimmed.
                (my $l = $_) =~ s/\A\t+|\t+\z//g;
                my ($n, $v, $s) = split /\t+/, $l, 4;
                next unless defined $n && (split /:/, $n)[0] eq $wn;
                next unless defined $s && substr($s, 1, 1) eq "i";
                $f = 1 if !defined $wv || (defined $v && $v eq $wv);
            }
            $need = 1 unless $f;
        }
        if ($need) {
            my (undef, $p) = capture(0, "apt-cache", "-o", "Dir::Cache::pkgcache=", "-o",
                "Dir::Cache::srcpkgcache=", "policy", @names);
            $o .= "\@\@policy\n$p";
        }
        return (0, $o);
    }
    return (0, dpkg_selections()) if $q eq "selections";
    return (0, facts(@a)) if $q eq "facts";
    if ($q eq "digest") {
        my ($algo, $p) = @a;
        return (1, "") unless -f $p && -r _;
        my $s = -s _;
        # (The arithmetic needs 64-bit integers.)
        if ($algo eq "sha1" && $s <= 1024 && ~0 > 0xffffffff) {
            my $d = slurp($p);
            return (0, sha1($d) . "\n") if defined $d;
        }
        my (undef, $sum) = capture_in($p, 0, "${algo}sum");
        return (0, length $sum ? (split / /, $sum)[0] . "\n" : "");
    }
    return (127, "");
}

out("\@PROV-PROBER\n");
while (defined(my $head = line())) {
    (%user, %group, %dpkg) = ();
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
