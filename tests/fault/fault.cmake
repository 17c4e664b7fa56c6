# Fault injection and reliability suites (included from tests/CMakeLists.txt).
#   unit.fault_env_test  the fault-injecting env itself
#   regress.issue13      one regression test per defect of issue 13
#   suite.powerloss      random workloads cut by simulated power losses
#   suite.ioerror        an injected error in every kind of env call
#   suite.sweep          byte flips at many offsets of every file kind
# Sizes shrink under STRATA_TEST_SCALE=asan; see tests/suites/README.md for
# the variables that make them longer.
set(FAULT_DIR ${CMAKE_CURRENT_LIST_DIR})

add_library(strata_faultenv STATIC ${FAULT_DIR}/fault_env.c)
target_include_directories(strata_faultenv PUBLIC ${FAULT_DIR} ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(strata_faultenv PUBLIC strata_static)

add_executable(fault_env_test ${FAULT_DIR}/fault_env_test.c)
target_include_directories(fault_env_test PRIVATE ${CMOCKA_INCLUDE_DIRS})
target_link_libraries(fault_env_test PRIVATE strata_faultenv ${CMOCKA_LIBRARIES})
add_test(NAME unit.fault_env_test COMMAND fault_env_test)
set_tests_properties(unit.fault_env_test PROPERTIES ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=stdout")

add_executable(issue13_test ${FAULT_DIR}/issue13_test.c)
target_include_directories(issue13_test PRIVATE ${CMOCKA_INCLUDE_DIRS})
target_link_libraries(issue13_test PRIVATE strata_faultenv ${CMOCKA_LIBRARIES})
add_test(NAME regress.issue13 COMMAND issue13_test)
set_tests_properties(regress.issue13 PROPERTIES ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=stdout")

# The suites share suite_util.h (seeded PRNG, values, hex formatting).
foreach(name powerloss_test ioerror_test sweep_test)
  add_executable(${name} ${FAULT_DIR}/${name}.c)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/suites)
  target_link_libraries(${name} PRIVATE strata_faultenv)
endforeach()
add_test(NAME suite.powerloss COMMAND powerloss_test)
set_tests_properties(suite.powerloss PROPERTIES TIMEOUT 900 LABELS suite)
add_test(NAME suite.ioerror COMMAND ioerror_test)
set_tests_properties(suite.ioerror PROPERTIES TIMEOUT 900 LABELS suite)
add_test(NAME suite.sweep COMMAND sweep_test)
set_tests_properties(suite.sweep PROPERTIES TIMEOUT 900 LABELS suite)
