//! `#[bcache]` and `#[fcache]` in one crate default to the same folder (named after the
//! crate): both must work there, whichever opens it first.
#![allow(missing_docs)]
#![cfg(all(feature = "lmdb", feature = "files"))]

use twat_ucache::{Backend, FileCache, LmdbCache};

fn open_both(dir: &std::path::Path) -> (LmdbCache<u32, String>, FileCache<u32, String>) {
    let lmdb = LmdbCache::<u32, String>::builder()
        .cache_dir(dir)
        .folder_name("shared")
        .name("lmdb-side")
        .build()
        .unwrap();
    let files = FileCache::<u32, String>::builder()
        .cache_dir(dir)
        .folder_name("shared")
        .name("files-side")
        .build()
        .unwrap();
    (lmdb, files)
}

#[test]
fn lmdb_and_files_share_a_folder_whichever_opens_first() {
    // Files first, in another process's shoes: a file cache has written its manifest and
    // an entry before any LMDB cache opened the folder.
    let dir = tempfile::tempdir().unwrap();
    {
        let files = FileCache::<u32, String>::builder()
            .cache_dir(dir.path())
            .folder_name("shared")
            .name("early")
            .register(false)
            .build()
            .unwrap();
        files.insert(1, "from files".into());
        assert_eq!(files.backend(), Backend::Files);
    }
    let (lmdb, files) = open_both(dir.path());
    assert_eq!(
        lmdb.backend(),
        Backend::Lmdb,
        "{:?}",
        lmdb.stats().fallback_reason
    );
    assert_eq!(
        files.backend(),
        Backend::Files,
        "{:?}",
        files.stats().fallback_reason
    );
    assert_eq!(lmdb.get_or_insert_with(1, || "lmdb".into()), "lmdb");
    assert_eq!(files.get_or_insert_with(2, || "files".into()), "files");
    assert_eq!(lmdb.get(&1).as_deref(), Some("lmdb"));
    assert_eq!(files.get(&2).as_deref(), Some("files"));
}
