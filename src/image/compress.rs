//! `prov image compress` and `prov image verify`: an image made into `NODE.img.xz` (or
//! `.zst`) with a `sha256sum`-format checksum file beside it, in one streaming pass.
//!
//! The sparse image is read once: its data extents with `read`, its holes (found with
//! `SEEK_DATA`/`SEEK_HOLE`) fed to the compressor as zeros from memory, so a 4 GiB image with
//! 1.2 GB of data costs 1.2 GB of reads. The compressed bytes are hashed as they are written;
//! there is never a second uncompressed copy. Both files are written under temporary names and
//! renamed when complete, so a killed run leaves the old files or none, never half of one.
//!
//! xz goes through liblzma's multithreaded encoder (not a subprocess), zstd through libzstd's.
//! Memory is bounded by the codec's settings, not the image: xz uses fewer threads rather than
//! exceed [`Options::memory`] (as the xz tool's `-T` does; liblzma's encoder reports what a
//! thread count would use, and one thread is the floor).

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::engine::Cancel;
use crate::error::{Error, ErrorKind, Result};

/// The compression format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Xz,
    Zstd,
}

impl Codec {
    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Codec::Xz => "xz",
            Codec::Zstd => "zst",
        }
    }

    /// The level when none is given, chosen by bench/compress.sh (the README's table): on two
    /// cores xz 3 takes 2.3x less time than 6 for a 10% larger file and fits two threads in
    /// the memory goal (9, the seed's, needs 674 MiB alone); zstd 19 needs 388 MiB.
    pub fn default_level(self) -> u32 {
        match self {
            Codec::Xz => 3,
            Codec::Zstd => 9,
        }
    }

    fn levels(self) -> std::ops::RangeInclusive<u32> {
        match self {
            Codec::Xz => 0..=9,
            Codec::Zstd => 1..=22,
        }
    }
}

/// How to compress.
#[derive(Clone, Debug)]
pub struct Options {
    pub codec: Codec,
    pub level: u32,
    /// Worker threads; 0: one per core.
    pub threads: u32,
    /// What xz's threads may use (bytes): fewer threads rather than more memory.
    pub memory: u64,
}

/// Memory xz's threads may use by default: the image pipeline's 200 MB budget (peak RSS) less
/// what the rest of prov holds. Level 6 fits one thread (about 165 MiB), level 3 two.
pub const DEFAULT_MEMORY: u64 = 170 << 20;

impl Options {
    pub fn new(codec: Codec, level: Option<u32>, threads: u32) -> Result<Options> {
        let level = level.unwrap_or(codec.default_level());
        if !codec.levels().contains(&level) {
            return Err(Error::usage(format!(
                "--level {level}: {} levels are {}..={}",
                codec.extension(),
                codec.levels().start(),
                codec.levels().end()
            )));
        }
        Ok(Options {
            codec,
            level,
            threads,
            memory: DEFAULT_MEMORY,
        })
    }

    /// The options the command line asked for (`--xz`/`--zstd`, `--level`, `--threads`).
    pub fn from_args(args: &crate::cli::CompressionArgs) -> Result<Options> {
        let codec = if args.zstd { Codec::Zstd } else { Codec::Xz };
        Options::new(codec, args.level, args.threads)
    }

    fn thread_count(&self) -> u32 {
        if self.threads > 0 {
            return self.threads;
        }
        std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1)
    }
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compressed {
    pub path: PathBuf,
    pub checksum_file: PathBuf,
    pub sha256: String,
    /// Bytes of the compressed file.
    pub size: u64,
    /// Bytes of the image (holes included).
    pub image_size: u64,
}

/// `NAME.sha256` beside `file`.
pub fn checksum_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256");
    file.with_file_name(name)
}

/// A sibling temporary name for `path`, unique to this process.
fn partial_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Counts and hashes what goes through it to the file; fails once the run is cancelled, so an
/// encoder finishing its last blocks stops at its next output.
struct HashingWriter<'c> {
    file: std::fs::File,
    hash: Sha256,
    bytes: u64,
    cancel: &'c Cancel,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.cancel.is_cancelled() {
            // Not ErrorKind::Interrupted: write_all retries that one forever.
            return Err(std::io::Error::other("interrupted"));
        }
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// The data extents of a file as `(start, end)`, holes left out (`SEEK_DATA`/`SEEK_HOLE`; a
/// file system without them reports one extent, the whole file).
fn data_extents(file: &std::fs::File, len: u64) -> std::io::Result<Vec<(u64, u64)>> {
    let fd = file.as_raw_fd();
    let mut out = Vec::new();
    let mut pos: u64 = 0;
    while pos < len {
        // SAFETY: lseek on an open descriptor; no memory is touched.
        let start = unsafe { libc::lseek(fd, pos as libc::off_t, libc::SEEK_DATA) };
        if start < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENXIO) {
                break; // only a hole is left
            }
            return Err(e);
        }
        // SAFETY: as above.
        let end = unsafe { libc::lseek(fd, start, libc::SEEK_HOLE) };
        if end < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let (start, end) = (start as u64, (end as u64).min(len));
        if end > start {
            out.push((start, end));
        }
        pos = end.max(start + 1);
    }
    Ok(out)
}

const CHUNK: usize = 1 << 20;

/// Feed the whole image to `out`: data extents read, holes as zeros from memory.
fn feed(
    img: &Path,
    out: &mut dyn Write,
    cancel: &Cancel,
    bar: &indicatif::ProgressBar,
) -> Result<u64> {
    let mut file = std::fs::File::open(img).map_err(|e| Error::io(img, e))?;
    let len = file.metadata().map_err(|e| Error::io(img, e))?.len();
    let extents = data_extents(&file, len).map_err(|e| Error::io(img, e))?;
    let zeros = vec![0u8; CHUNK];
    let mut buf = vec![0u8; CHUNK];
    let mut pos = 0u64;
    let write_err =
        |e: std::io::Error| Error::runtime(format!("compressing {}: {e}", img.display()));
    let interrupted = || Error::new(ErrorKind::Interrupted, "interrupted");
    let holes_then = |pos: &mut u64, until: u64, out: &mut dyn Write| -> Result<()> {
        while *pos < until {
            if cancel.is_cancelled() {
                return Err(interrupted());
            }
            let n = (until - *pos).min(CHUNK as u64) as usize;
            out.write_all(&zeros[..n]).map_err(write_err)?;
            *pos += n as u64;
            bar.set_position(*pos);
        }
        Ok(())
    };
    for (start, end) in extents {
        holes_then(&mut pos, start, out)?;
        file.seek(SeekFrom::Start(start))
            .map_err(|e| Error::io(img, e))?;
        while pos < end {
            if cancel.is_cancelled() {
                return Err(interrupted());
            }
            let n = (end - pos).min(CHUNK as u64) as usize;
            file.read_exact(&mut buf[..n])
                .map_err(|e| Error::io(img, e))?;
            out.write_all(&buf[..n]).map_err(write_err)?;
            pos += n as u64;
            bar.set_position(pos);
        }
    }
    holes_then(&mut pos, len, out)?;
    Ok(len)
}

/// How many xz threads: the most (up to `threads`) whose memory stays within `memory`. One
/// means liblzma's single-threaded encoder: it needs no block buffers and hands out its output
/// as it goes (so an interrupt is seen within a chunk).
fn xz_threads(level: u32, threads: u32, memory: u64) -> u32 {
    let mut b = liblzma::stream::MtStreamBuilder::new();
    b.preset(level).check(liblzma::stream::Check::Crc64);
    let mut n = threads.max(1);
    while n > 1 && b.threads(n).memusage() > memory {
        n -= 1;
    }
    n
}

fn xz_stream(
    level: u32,
    threads: u32,
) -> std::result::Result<liblzma::stream::Stream, liblzma::stream::Error> {
    let check = liblzma::stream::Check::Crc64;
    if threads <= 1 {
        return liblzma::stream::Stream::new_easy_encoder(level, check);
    }
    liblzma::stream::MtStreamBuilder::new()
        .preset(level)
        .check(check)
        .threads(threads)
        .encoder()
}

/// The compressor writing into `sink`, as a writer that is finished by [`finish`].
enum Encoder<'c> {
    Xz(liblzma::write::XzEncoder<HashingWriter<'c>>),
    Zstd(zstd::stream::write::Encoder<'static, HashingWriter<'c>>),
}

impl<'c> Encoder<'c> {
    fn new(opts: &Options, sink: HashingWriter<'c>) -> Result<Encoder<'c>> {
        let threads = opts.thread_count();
        match opts.codec {
            Codec::Xz => {
                let threads = xz_threads(opts.level, threads, opts.memory);
                let stream = xz_stream(opts.level, threads)
                    .map_err(|e| Error::runtime(format!("xz encoder: {e}")))?;
                Ok(Encoder::Xz(liblzma::write::XzEncoder::new_stream(
                    sink, stream,
                )))
            }
            Codec::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(sink, opts.level as i32)
                    .map_err(|e| Error::runtime(format!("zstd encoder: {e}")))?;
                enc.include_checksum(true)
                    .and_then(|_| enc.multithread(threads))
                    .map_err(|e| Error::runtime(format!("zstd encoder: {e}")))?;
                Ok(Encoder::Zstd(enc))
            }
        }
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Encoder::Xz(e) => e,
            Encoder::Zstd(e) => e,
        }
    }

    fn finish(self) -> std::io::Result<HashingWriter<'c>> {
        match self {
            Encoder::Xz(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

/// Write `path` whole or not at all: a temporary sibling, synced, renamed.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = partial_path(path);
    let r = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r.map_err(|e| Error::io(path, e))
}

/// Compress `img` into `IMG.xz` (or `.zst`) and write `IMG.xz.sha256`.
pub fn compress(
    img: &Path,
    opts: &Options,
    cancel: &Cancel,
    bar: &indicatif::ProgressBar,
) -> Result<Compressed> {
    let mut name = img.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}", opts.codec.extension()));
    let path = img.with_file_name(name);
    let tmp = partial_path(&path);
    let result = (|| {
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let sink = HashingWriter {
            file,
            hash: Sha256::new(),
            bytes: 0,
            cancel,
        };
        let mut enc = Encoder::new(opts, sink)?;
        let image_size = feed(img, enc.writer(), cancel, bar)?;
        let sink = enc
            .finish()
            .map_err(|e| Error::runtime(format!("compressing {}: {e}", img.display())))?;
        sink.file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        let sha256 = hex(&sink.hash.finalize());
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        Ok((sha256, sink.bytes, image_size))
    })();
    let (sha256, size, image_size) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let checksum_file = checksum_path(&path);
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    write_atomically(&checksum_file, &format!("{sha256}  {file_name}\n"))?;
    Ok(Compressed {
        path,
        checksum_file,
        sha256,
        size,
        image_size,
    })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 of a file, read in chunks.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// The hash a `sha256sum` line gives for `name` (`<hex>  <name>` or `<hex> *<name>`).
pub fn parse_checksum(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (hash, rest) = line.split_once(' ')?;
        let file = rest.strip_prefix([' ', '*'])?;
        let ok = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        (ok && file == name).then(|| hash.to_ascii_lowercase())
    })
}

/// `prov image verify FILE`: FILE's sha256 is the one its `.sha256` file names.
pub fn verify(file: &Path) -> Result<String> {
    let sums = checksum_path(file);
    let text = std::fs::read_to_string(&sums).map_err(|e| Error::io(&sums, e))?;
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let want = parse_checksum(&text, &name).ok_or_else(|| {
        Error::runtime(format!("{} has no sha256 line for {name}", sums.display()))
    })?;
    let got = sha256_file(file)?;
    if got != want {
        return Err(Error::runtime(format!(
            "{}: sha256 {got} is not the {want} that {} names",
            file.display(),
            sums.display()
        )));
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("prov-compress-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A sparse file: 64 MiB long, data at 1 MiB and at 40 MiB, holes around.
    fn sparse_image(path: &Path) -> Vec<u8> {
        let mut f = std::fs::File::create(path).unwrap();
        f.set_len(64 << 20).unwrap();
        let mut whole = vec![0u8; 64 << 20];
        for (at, seed) in [(1u64 << 20, 7u8), (40 << 20, 13)] {
            let data: Vec<u8> = (0..300_000u32)
                .map(|i| (i.wrapping_mul(seed as u32) >> 3) as u8 ^ seed)
                .collect();
            f.seek(SeekFrom::Start(at)).unwrap();
            f.write_all(&data).unwrap();
            whole[at as usize..at as usize + data.len()].copy_from_slice(&data);
        }
        whole
    }

    #[test]
    fn extents_skip_the_holes() {
        let d = dir("extents");
        let p = d.join("img");
        sparse_image(&p);
        let f = std::fs::File::open(&p).unwrap();
        let ex = data_extents(&f, 64 << 20).unwrap();
        // The file system reports at least the written ranges, and (on ext4/tmpfs) no more
        // than a block's rounding around them.
        assert!(!ex.is_empty());
        let covered: u64 = ex.iter().map(|(a, b)| b - a).sum();
        assert!(covered >= 600_000, "{ex:?}");
        assert!(covered < 8 << 20, "{ex:?}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn both_codecs_round_trip_with_a_checksum_file() {
        let d = dir("round");
        let img = d.join("node.img");
        let whole = sparse_image(&img);
        for codec in [Codec::Xz, Codec::Zstd] {
            let opts = Options::new(codec, Some(3), 2).unwrap();
            let c = compress(
                &img,
                &opts,
                &Cancel::default(),
                &indicatif::ProgressBar::hidden(),
            )
            .unwrap();
            assert_eq!(c.image_size, 64 << 20);
            assert_eq!(std::fs::metadata(&c.path).unwrap().len(), c.size);
            assert!(c.size < 2 << 20, "{} bytes", c.size);
            let sums = std::fs::read_to_string(&c.checksum_file).unwrap();
            assert_eq!(
                sums,
                format!("{}  node.img.{}\n", c.sha256, codec.extension())
            );
            assert_eq!(verify(&c.path).unwrap(), c.sha256);
            let mut back = Vec::new();
            let f = std::fs::File::open(&c.path).unwrap();
            match codec {
                Codec::Xz => liblzma::read::XzDecoder::new_multi_decoder(f)
                    .read_to_end(&mut back)
                    .unwrap(),
                Codec::Zstd => zstd::stream::read::Decoder::new(f)
                    .unwrap()
                    .read_to_end(&mut back)
                    .unwrap(),
            };
            assert!(back == whole, "{codec:?} did not round-trip");
            // One flipped byte: verify refuses it.
            let mut bytes = std::fs::read(&c.path).unwrap();
            bytes[100] ^= 1;
            std::fs::write(&c.path, &bytes).unwrap();
            let err = verify(&c.path).unwrap_err().to_string();
            assert!(err.contains("is not the"), "{err}");
        }
        let leftovers: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("partial"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_interrupted_compression_leaves_nothing() {
        let d = dir("cancel");
        let img = d.join("node.img");
        sparse_image(&img);
        let cancel = Cancel::default();
        cancel.cancel();
        let opts = Options::new(Codec::Xz, Some(1), 1).unwrap();
        let err = compress(&img, &opts, &cancel, &indicatif::ProgressBar::hidden()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Interrupted);
        let names: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["node.img"]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn xz_uses_fewer_threads_rather_than_more_memory() {
        // Level 6 takes about 165 MiB a thread with its blocks: two exceed the default limit
        // (one thread is the single-threaded encoder, about 94 MiB); level 3 fits two.
        assert_eq!(xz_threads(6, 2, DEFAULT_MEMORY), 1);
        assert_eq!(xz_threads(6, 2, u64::MAX), 2);
        assert_eq!(xz_threads(3, 2, DEFAULT_MEMORY), 2);
        assert_eq!(xz_threads(1, 8, u64::MAX), 8);
        // Level 9 needs more than the limit even alone: one thread, not zero.
        assert_eq!(xz_threads(9, 4, DEFAULT_MEMORY), 1);
        assert!(xz_stream(9, 1).is_ok() && xz_stream(3, 2).is_ok());
    }

    #[test]
    fn checksum_lines_and_levels() {
        let h = "a".repeat(64);
        assert_eq!(
            parse_checksum(&format!("{h}  x.img.xz\n"), "x.img.xz"),
            Some(h.clone())
        );
        assert_eq!(
            parse_checksum(&format!("{h} *x.img.xz\n"), "x.img.xz"),
            Some(h.clone())
        );
        assert_eq!(
            parse_checksum(&format!("{h}  y.img.xz\n"), "x.img.xz"),
            None
        );
        assert_eq!(parse_checksum("zz  x.img.xz\n", "x.img.xz"), None);
        assert!(Options::new(Codec::Xz, Some(10), 0).is_err());
        assert!(Options::new(Codec::Zstd, Some(0), 0).is_err());
        assert_eq!(Options::new(Codec::Xz, None, 0).unwrap().level, 3);
        assert_eq!(Options::new(Codec::Zstd, None, 0).unwrap().level, 9);
    }
}
