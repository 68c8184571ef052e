# plugins/groups/deps.cmake - included by the top CMakeLists.txt while it defines
# plugin_groups: group pictures go through the picture pipeline the profile plugin has
# (plugins/profile/pics.c: base64 / url / multipart input, a worker thread, the
# w:profile:picture set IQ) and its JPEG maker (plugins/profile/image.c, libjpeg and
# libpng), compiled into this plugin too rather than copied.
pkg_check_modules(GROUPS_IMG REQUIRED IMPORTED_TARGET libjpeg libpng)
target_sources(plugin_groups PRIVATE ${CMAKE_SOURCE_DIR}/plugins/profile/pics.c
                                     ${CMAKE_SOURCE_DIR}/plugins/profile/image.c)
target_include_directories(plugin_groups PRIVATE ${CMAKE_SOURCE_DIR}/plugins/profile)
target_link_libraries(plugin_groups PRIVATE PkgConfig::GROUPS_IMG pthread)
