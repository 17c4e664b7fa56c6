# System-level suites (included from tests/CMakeLists.txt).
#   suite.model     randomized model test against an in-memory oracle
#   suite.txn_model the same for transactions and sub-databases
#   suite.txn_threads transfers in transactions beside plain writers and readers
#   suite.crash     SIGKILL a writer, check durability and batch atomicity
#   suite.badfiles  damaged log/table/MANIFEST/CURRENT: clean errors only
#   suite.corrupt   one flipped byte per file: open, reads, check and repair outcomes
#   suite.threads   one handle shared by writers, readers and a compactor
#   suite.golden    Strata reads a database LevelDB wrote (committed data)
#   suite.readonly_model  a read-only handle that catches up, against an oracle
#   suite.readonly_procs  a writer process, read-only reader processes
#   suite.readonly_threads  readers of a read-only handle while it catches up
#   suite.checkpoint checkpoints beside writers and kills (LevelDB reads them)
#   compat.leveldb  LevelDB <-> Strata in both directions (needs libleveldb)
# Op counts shrink under STRATA_TEST_SCALE=asan (set by `make test-asan`).
set(SUITES_DIR ${CMAKE_CURRENT_LIST_DIR})

foreach(name model_test txn_model_test txn_threads_test crash_test badfiles_test threads_test
             corrupt_test readonly_model_test readonly_procs_test readonly_threads_test
             checkpoint_live_test)
  add_executable(${name} ${SUITES_DIR}/${name}.c)
  target_link_libraries(${name} PRIVATE strata_static)
endforeach()
# corrupt_test decodes table blocks itself, snappy included, to know which
# keys a damaged block holds.
target_include_directories(corrupt_test PRIVATE ${SNAPPY_INCLUDE})
target_link_libraries(corrupt_test PRIVATE ${SNAPPY_LIB})

add_executable(strata_tool ${SUITES_DIR}/compat/strata_tool.c)
target_link_libraries(strata_tool PRIVATE strata_static)

add_test(NAME suite.model COMMAND model_test)
add_test(NAME suite.txn_model COMMAND txn_model_test)
add_test(NAME suite.txn_threads COMMAND txn_threads_test)
add_test(NAME suite.crash COMMAND crash_test)
add_test(NAME suite.badfiles COMMAND badfiles_test)
add_test(NAME suite.threads COMMAND threads_test)
add_test(NAME suite.corrupt COMMAND corrupt_test)
add_test(NAME suite.readonly_model COMMAND readonly_model_test)
add_test(NAME suite.readonly_threads COMMAND readonly_threads_test)
add_test(NAME suite.golden
         COMMAND sh ${SUITES_DIR}/golden/golden_test.sh $<TARGET_FILE:strata_tool> ${SUITES_DIR}/golden)
set_tests_properties(suite.model PROPERTIES TIMEOUT 900 LABELS suite)
set_tests_properties(suite.txn_model PROPERTIES TIMEOUT 600 LABELS suite)
set_tests_properties(suite.txn_threads PROPERTIES TIMEOUT 300 LABELS suite)
set_tests_properties(suite.crash PROPERTIES TIMEOUT 600 LABELS suite)
set_tests_properties(suite.badfiles PROPERTIES TIMEOUT 300 LABELS suite)
set_tests_properties(suite.threads PROPERTIES TIMEOUT 300 LABELS suite)
set_tests_properties(suite.corrupt PROPERTIES TIMEOUT 300 LABELS suite)
set_tests_properties(suite.readonly_model PROPERTIES TIMEOUT 300 LABELS suite)
set_tests_properties(suite.readonly_threads PROPERTIES TIMEOUT 300 LABELS suite)
set_tests_properties(suite.golden PROPERTIES TIMEOUT 120 LABELS "suite;compat")
# Strata writes in one process while three read-only processes follow it.
add_test(NAME suite.readonly_procs COMMAND readonly_procs_test $<TARGET_FILE:strata_tool>)
set_tests_properties(suite.readonly_procs PROPERTIES TIMEOUT 300 LABELS suite)

# The LevelDB side lives in its own executable: the two libraries are never
# linked into one program.
find_library(LEVELDB_LIB leveldb)
find_path(LEVELDB_INCLUDE leveldb/c.h)
if(LEVELDB_LIB AND LEVELDB_INCLUDE)
  add_executable(ldb_tool ${SUITES_DIR}/compat/ldb_tool.c)
  target_include_directories(ldb_tool PRIVATE ${LEVELDB_INCLUDE} ${SNAPPY_INCLUDE})
  target_link_libraries(ldb_tool PRIVATE ${LEVELDB_LIB} ${SNAPPY_LIB})
  add_test(NAME compat.leveldb
           COMMAND sh ${SUITES_DIR}/compat/compat_test.sh $<TARGET_FILE:ldb_tool> $<TARGET_FILE:strata_tool>)
  set_tests_properties(compat.leveldb PROPERTIES TIMEOUT 900 LABELS compat)
  # LevelDB 1.23 writes while three read-only Strata processes follow it.
  add_test(NAME compat.readonly_leveldb COMMAND readonly_procs_test $<TARGET_FILE:ldb_tool>)
  set_tests_properties(compat.readonly_leveldb PROPERTIES TIMEOUT 300 LABELS compat)
else()
  message(STATUS "libleveldb not found: compat.leveldb test not registered (suite.golden still runs)")
endif()

# Checkpoints: LevelDB 1.23 reads each one when ldb_tool could be built.
if(TARGET ldb_tool)
  add_test(NAME suite.checkpoint
           COMMAND checkpoint_live_test --ldb $<TARGET_FILE:ldb_tool>
                   --strata-tool $<TARGET_FILE:strata_tool>)
else()
  add_test(NAME suite.checkpoint COMMAND checkpoint_live_test)
endif()
set_tests_properties(suite.checkpoint PROPERTIES TIMEOUT 300 LABELS suite)
