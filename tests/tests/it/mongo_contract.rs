//! The contract suites against the MongoDB adapters, on the test process's MongoDB-wire
//! server (see `tests::harness::mongo`), each check on a fresh database.

mod notification_store {
    tests::notification_store_contract!(tests::harness::mongo::notification_store);
}

mod dead_letter_store {
    tests::dead_letter_store_contract!(tests::harness::mongo::dead_letter_store);
}
