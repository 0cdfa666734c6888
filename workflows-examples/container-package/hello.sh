#!/bin/sh
echo "hello from the container-package example"
