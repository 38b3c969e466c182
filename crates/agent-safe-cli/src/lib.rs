pub fn run<I, T>(_args: I) -> i32 where I: IntoIterator<Item = T>, T: Into<std::ffi::OsString> + Clone { 0 }
