package com.cloudbees.groovy.cps

import java.lang.annotation.ElementType
import java.lang.annotation.Retention
import java.lang.annotation.RetentionPolicy
import java.lang.annotation.Target

/**
 * Test stand-in for the annotation of the same name in Jenkins' groovy-cps library, so that the
 * library's classes compile outside Jenkins. Outside Jenkins it means nothing.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target([ElementType.METHOD, ElementType.CONSTRUCTOR])
@interface NonCPS {
}
