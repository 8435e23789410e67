//! Tests of the instance state machine.
