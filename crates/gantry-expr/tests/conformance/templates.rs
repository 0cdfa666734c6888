//! Templates: strings with embedded `${{ }}`.
