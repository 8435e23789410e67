//! Wire formats (work in progress).
