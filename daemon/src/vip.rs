//! Virtual IP ownership through rtnetlink (work in progress).
