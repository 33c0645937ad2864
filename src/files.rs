//! The one way the program creates files: never through a symbolic link, never over a file
//! that someone else put there first, and a replacement never half-written.
//!
//! A new file is opened with `O_CREAT | O_EXCL | O_NOFOLLOW` and its mode from the start; a
//! replaced file (a report, a timeline's head) is written under a random name in the same
//! folder, synced, then renamed over the old one. Folders this creates are private (0700), and
//! the folder of a timeline must be one that no other user can change ([`check_private_folder`]).

use std::ffi::OsString;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// Mode of timelines and their sidecars: only the owner reads them (they hold outputs).
pub const PRIVATE: u32 = 0o600;
/// Mode of reports and runbooks: everyone may read them.
pub const SHARED: u32 = 0o644;

/// Creates `path`, which must not exist yet, with `mode` (less the umask), open for appending;
/// a symbolic link at `path` is refused, not followed.
pub fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

/// Opens an existing file to read and append to it; a symbolic link is refused with an error
/// that says so.
pub fn open_existing(path: &Path) -> io::Result<File> {
    let opened = OpenOptions::new()
        .read(true)
        .append(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path);
    match opened {
        Err(error) if error.raw_os_error() == Some(nix::libc::ELOOP) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a symbolic link, which is never followed",
        )),
        other => other,
    }
}

/// Opens a file only this user can have written, to read it: a symbolic link, a file of
/// another user and a file others may write are refused (what a cache is read from).
pub fn open_own_to_read(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    let metadata = file.metadata()?;
    if metadata.uid() != effective_uid() || metadata.mode() & 0o022 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "another user owns it or may write it",
        ));
    }
    Ok(file)
}

/// Opens an existing file to overwrite it in place (writes go where they are aimed, not to
/// the end); a symbolic link is refused, not followed.
pub fn open_to_overwrite(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

/// Replaces (or creates) `path` with `bytes` in one step: a reader sees the old file or the
/// new one, never half of it, and a link planted at the temporary name cannot redirect it.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let folder = folder_of(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let (temporary, mut file) = create_temporary(&folder, name, mode)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    sync_folder(&folder);
    Ok(())
}

/// `.NAME.RANDOM.tmp` beside the destination, created new; a name taken (by chance, or by
/// someone who guessed it) is skipped for another.
fn create_temporary(
    folder: &Path,
    name: &std::ffi::OsStr,
    mode: u32,
) -> io::Result<(PathBuf, File)> {
    let mut last = None;
    for _ in 0..8 {
        let mut temporary_name = OsString::from(".");
        temporary_name.push(name);
        temporary_name.push(format!(".{}.tmp", random_hex()?));
        let temporary = folder.join(temporary_name);
        match create_new(&temporary, mode) {
            Ok(file) => return Ok((temporary, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// 16 random hex digits from the system's random source.
fn random_hex() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates `folder` and its missing parents, each one private (0700); existing ones are left
/// as they are.
pub fn create_private_folder(folder: &Path) -> io::Result<()> {
    if folder.as_os_str().is_empty() || folder.is_dir() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(0o700).create(folder)
}

/// Why a folder is not safe to keep timelines in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsafeFolder {
    /// Others may create, rename and remove files in it (no sticky bit).
    WritableByOthers { mode: u32 },
    /// Owned by another user (neither this one nor root), who may do so at any time.
    OwnedByAnother { owner: u32 },
    /// A symbolic link to somewhere else.
    Symlink,
}

impl std::fmt::Display for UnsafeFolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnsafeFolder::WritableByOthers { mode } => write!(
                f,
                "it is writable by every user (mode {:o}, no sticky bit), so anyone could \
                 plant or replace a timeline in it; `chmod o-w` it or choose another folder",
                mode & 0o7777
            ),
            UnsafeFolder::OwnedByAnother { owner } => write!(
                f,
                "it belongs to another user (uid {owner}), who could plant or replace a \
                 timeline in it; `chown` it to yourself or choose another folder"
            ),
            UnsafeFolder::Symlink => write!(
                f,
                "it is a symbolic link, which is never followed for a timeline; name the \
                 real folder"
            ),
        }
    }
}

/// Checks that no other user can change what is in `folder`: it is not writable by others
/// (unless sticky, as `/tmp` is), and it belongs to this user or to root.
pub fn check_private_folder(folder: &Path) -> io::Result<Result<(), UnsafeFolder>> {
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let link = std::fs::symlink_metadata(folder)?;
    if link.file_type().is_symlink() {
        return Ok(Err(UnsafeFolder::Symlink));
    }
    let mode = link.mode();
    if mode & 0o002 != 0 && mode & 0o1000 == 0 {
        return Ok(Err(UnsafeFolder::WritableByOthers { mode }));
    }
    let owner = link.uid();
    if owner != 0 && owner != effective_uid() {
        return Ok(Err(UnsafeFolder::OwnedByAnother { owner }));
    }
    Ok(Ok(()))
}

/// The user this process acts as.
pub fn effective_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// The folder a path is in (`.` for a bare name).
pub fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Makes a new entry in `folder` durable; where that is not possible, the entry is still
/// there, only not yet on disk.
pub fn sync_folder(folder: &Path) {
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode_of(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn a_new_file_never_follows_a_link_nor_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, "precious").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(create_new(&link, PRIVATE).is_err());
        assert!(create_new(&target, PRIVATE).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        let fresh = dir.path().join("fresh");
        create_new(&fresh, PRIVATE).unwrap();
        assert_eq!(mode_of(&fresh), 0o600);
    }

    #[test]
    fn an_existing_file_is_opened_but_not_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.jsonl");
        std::fs::write(&target, "x").unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        open_existing(&target).unwrap();
        let error = open_existing(&link).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
    }

    #[test]
    fn a_replacement_is_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("status.html");
        std::fs::write(&page, "old").unwrap();
        write_atomically(&page, b"new page", SHARED).unwrap();
        assert_eq!(std::fs::read_to_string(&page).unwrap(), "new page");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let head = dir.path().join("t.jsonl.head");
        write_atomically(&head, b"h", PRIVATE).unwrap();
        assert_eq!(mode_of(&head), 0o600);
        // A link at the destination is replaced, not written through.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = dir.path().join("out");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        write_atomically(&link, b"report", SHARED).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert!(write_atomically(&dir.path().join("missing/x"), b"x", SHARED).is_err());
    }

    #[test]
    fn created_folders_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        create_private_folder(&deep).unwrap();
        assert_eq!(mode_of(&dir.path().join("a")) & 0o077, 0);
        assert_eq!(mode_of(&deep) & 0o077, 0);
        assert_eq!(check_private_folder(&deep).unwrap(), Ok(()));
    }

    #[test]
    fn a_folder_others_can_write_is_unsafe_unless_sticky() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let verdict = check_private_folder(&open).unwrap();
        assert!(
            matches!(verdict, Err(UnsafeFolder::WritableByOthers { .. })),
            "{verdict:?}"
        );
        assert!(
            verdict
                .unwrap_err()
                .to_string()
                .contains("writable by every user")
        );
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(check_private_folder(&open).unwrap(), Ok(()));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&open, &link).unwrap();
        assert_eq!(
            check_private_folder(&link).unwrap(),
            Err(UnsafeFolder::Symlink)
        );
    }
}
