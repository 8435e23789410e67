//! End-to-end suite for vrrplab: see tests/.
