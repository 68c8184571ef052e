# plugins/contacts/deps.cmake - included by the top CMakeLists.txt while it defines
# plugin_contacts: no libraries of its own; tests/unit/test_plugin_contacts.c loads
# <build>/plugins/contacts.so through the mock host, so it is built first (deferred to the
# end of the top file, where the test targets exist).
function(miaw_contacts_test)
  if(TARGET test_plugin_contacts)
    add_dependencies(test_plugin_contacts plugin_contacts)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL miaw_contacts_test)
