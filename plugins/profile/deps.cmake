# plugins/profile/deps.cmake - included by the top CMakeLists.txt while it defines
# plugin_profile: image.c makes profile pictures with libjpeg (Debian libjpeg62-turbo-dev)
# and libpng (libpng-dev), the libraries plugins/messages already uses for thumbnails, on a
# worker thread (pthread). tests/unit/test_plugin_profile.c compiles image.c in and gets
# the same libraries once its target exists (deferred to the end of the top file).
pkg_check_modules(PROFILE_IMG REQUIRED IMPORTED_TARGET libjpeg libpng)
target_link_libraries(plugin_profile PRIVATE PkgConfig::PROFILE_IMG pthread)
function(miaw_profile_image_test)
  if(TARGET test_plugin_profile)
    target_sources(test_plugin_profile PRIVATE ${CMAKE_SOURCE_DIR}/plugins/profile/image.c)
    target_link_libraries(test_plugin_profile PRIVATE PkgConfig::PROFILE_IMG pthread)
    add_dependencies(test_plugin_profile plugin_profile)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL miaw_profile_image_test)
