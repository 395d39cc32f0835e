//! Formats we recognise and refuse by name.
