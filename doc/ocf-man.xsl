<?xml version="1.0"?>
<!-- SPDX-License-Identifier: LGPL-2.1-or-later -->
<!--
  ocf_warden_<agent>(7) from the agent's OCF 1.1 meta-data (the XML Pacemaker
  reads), run by xsltproc at build time (doc/meson.build). Neither
  resource-agents' ra2man.xsl nor Pacemaker's stylesheets are packaged in
  Debian 12; this is the project's own, small enough to read. The page can
  not drift from the agent: it is made from what the agent prints.

  Parameters: agent_dir (where the agent is installed), version (warden's).
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text" encoding="UTF-8"/>
  <xsl:strip-space elements="*"/>
  <xsl:param name="agent_dir" select="'/usr/lib/ocf/resource.d/warden'"/>
  <xsl:param name="version" select="''"/>

  <xsl:variable name="nl" select="'&#10;'"/>
  <xsl:variable name="agent" select="/resource-agent/@name"/>

  <!-- replace TEXT FROM TO: every FROM in TEXT replaced by TO. -->
  <xsl:template name="replace">
    <xsl:param name="text"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($text, $from)">
        <xsl:value-of select="substring-before($text, $from)"/>
        <xsl:value-of select="$to"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="text" select="substring-after($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- roff TEXT: TEXT safe as roff input: backslashes printed as such, no
       line that starts with a control character, hyphens as hyphens. -->
  <xsl:template name="roff">
    <xsl:param name="text"/>
    <xsl:variable name="a">
      <xsl:call-template name="replace">
        <xsl:with-param name="text" select="normalize-space($text)"/>
        <xsl:with-param name="from" select="'\'"/>
        <xsl:with-param name="to" select="'\e'"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:text>\&amp;</xsl:text>
    <xsl:call-template name="replace">
      <xsl:with-param name="text" select="$a"/>
      <xsl:with-param name="from" select="'-'"/>
      <xsl:with-param name="to" select="'\-'"/>
    </xsl:call-template>
  </xsl:template>

  <!-- The value an example gives a required parameter: its default, else
       its type as a placeholder. -->
  <xsl:template name="example-value">
    <xsl:choose>
      <xsl:when test="content/@default != ''">
        <xsl:value-of select="content/@default"/>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="content/@type"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="/resource-agent">
    <xsl:text>.TH OCF_WARDEN_</xsl:text>
    <xsl:value-of select="translate($agent, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')"/>
    <xsl:text> 7 "" "warden </xsl:text>
    <xsl:value-of select="$version"/>
    <xsl:text>" "OCF resource agents"&#10;</xsl:text>

    <xsl:text>.SH NAME&#10;ocf_warden_</xsl:text>
    <xsl:value-of select="$agent"/>
    <xsl:text> \- </xsl:text>
    <xsl:call-template name="roff"><xsl:with-param name="text" select="shortdesc"/></xsl:call-template>
    <xsl:value-of select="$nl"/>

    <xsl:text>.SH SYNOPSIS&#10;</xsl:text>
    <xsl:for-each select="parameters/parameter[@required = '1']">
      <xsl:text>\fBOCF_RESKEY_</xsl:text>
      <xsl:value-of select="@name"/>
      <xsl:text>\fR=\fI</xsl:text>
      <xsl:value-of select="content/@type"/>
      <xsl:text>\fR&#10;</xsl:text>
    </xsl:for-each>
    <xsl:for-each select="parameters/parameter[@required != '1']">
      <xsl:text>[\fBOCF_RESKEY_</xsl:text>
      <xsl:value-of select="@name"/>
      <xsl:text>\fR=\fI</xsl:text>
      <xsl:value-of select="content/@type"/>
      <xsl:text>\fR]&#10;</xsl:text>
    </xsl:for-each>
    <xsl:text>.br&#10;\fB</xsl:text>
    <xsl:value-of select="$agent_dir"/>
    <xsl:text>/</xsl:text>
    <xsl:value-of select="$agent"/>
    <xsl:text>\fR {</xsl:text>
    <xsl:for-each select="actions/action[not(@name = preceding-sibling::action/@name)]">
      <xsl:value-of select="@name"/>
      <xsl:if test="position() != last()">|</xsl:if>
    </xsl:for-each>
    <xsl:text>}&#10;</xsl:text>

    <xsl:text>.SH DESCRIPTION&#10;</xsl:text>
    <xsl:call-template name="roff"><xsl:with-param name="text" select="longdesc"/></xsl:call-template>
    <xsl:text>&#10;.PP&#10;Pacemaker names it \fBocf:warden:</xsl:text>
    <xsl:value-of select="$agent"/>
    <xsl:text>\fR. Parameters come from the environment, \fBOCF_RESKEY_\fR\fIname\fR, as Pacemaker sets them.&#10;</xsl:text>

    <xsl:text>.SH SUPPORTED PARAMETERS&#10;</xsl:text>
    <xsl:apply-templates select="parameters/parameter"/>

    <xsl:text>.SH SUPPORTED ACTIONS&#10;This agent supports the following actions, with their default timeouts:&#10;</xsl:text>
    <xsl:for-each select="actions/action">
      <xsl:text>.TP&#10;\fB</xsl:text>
      <xsl:value-of select="@name"/>
      <xsl:text>\fR&#10;timeout=</xsl:text>
      <xsl:value-of select="@timeout"/>
      <xsl:if test="@interval">
        <xsl:text> interval=</xsl:text>
        <xsl:value-of select="@interval"/>
      </xsl:if>
      <xsl:if test="@depth">
        <xsl:text> depth=</xsl:text>
        <xsl:value-of select="@depth"/>
      </xsl:if>
      <xsl:value-of select="$nl"/>
    </xsl:for-each>

    <xsl:text>.SH EXAMPLE CRM SHELL&#10;</xsl:text>
    <xsl:text>An example configuration of an ocf:warden:</xsl:text>
    <xsl:value-of select="$agent"/>
    <xsl:text> resource with the \fBcrm\fR(8) shell (replace a type name with a value):&#10;.PP&#10;.RS 4&#10;.nf&#10;</xsl:text>
    <xsl:text>crm configure primitive p_</xsl:text>
    <xsl:value-of select="$agent"/>
    <xsl:text> ocf:warden:</xsl:text>
    <xsl:value-of select="$agent"/>
    <xsl:if test="parameters/parameter[@required = '1']">
      <xsl:text> \e&#10;    params</xsl:text>
      <xsl:for-each select="parameters/parameter[@required = '1']">
        <xsl:text> </xsl:text>
        <xsl:value-of select="@name"/>
        <xsl:text>="</xsl:text>
        <xsl:call-template name="example-value"/>
        <xsl:text>"</xsl:text>
      </xsl:for-each>
    </xsl:if>
    <xsl:for-each select="actions/action[@name = 'monitor']">
      <xsl:text> \e&#10;    op monitor interval=</xsl:text>
      <xsl:value-of select="@interval"/>
      <xsl:text> timeout=</xsl:text>
      <xsl:value-of select="@timeout"/>
      <!-- OCF_CHECK_LEVEL, not crmsh's depth=: crmsh 4.4 stores depth=
           as an attribute named depth, which no agent is given. -->
      <xsl:if test="@depth and @depth != '0'">
        <xsl:text> OCF_CHECK_LEVEL=</xsl:text>
        <xsl:value-of select="@depth"/>
      </xsl:if>
    </xsl:for-each>
    <xsl:text>&#10;.fi&#10;.RE&#10;</xsl:text>

    <xsl:text>.SH EXAMPLE PCS&#10;</xsl:text>
    <xsl:text>The same with \fBpcs\fR(8):&#10;.PP&#10;.RS 4&#10;.nf&#10;</xsl:text>
    <xsl:text>pcs resource create p_</xsl:text>
    <xsl:value-of select="$agent"/>
    <xsl:text> ocf:warden:</xsl:text>
    <xsl:value-of select="$agent"/>
    <xsl:for-each select="parameters/parameter[@required = '1']">
      <xsl:text> \e&#10;    </xsl:text>
      <xsl:value-of select="@name"/>
      <xsl:text>="</xsl:text>
      <xsl:call-template name="example-value"/>
      <xsl:text>"</xsl:text>
    </xsl:for-each>
    <xsl:if test="actions/action[@name = 'monitor']">
      <xsl:text> \e&#10;    op</xsl:text>
      <xsl:for-each select="actions/action[@name = 'monitor']">
        <xsl:if test="position() != 1"><xsl:text> \e&#10;      </xsl:text></xsl:if>
        <xsl:text> monitor interval=</xsl:text>
        <xsl:value-of select="@interval"/>
        <xsl:text> timeout=</xsl:text>
        <xsl:value-of select="@timeout"/>
        <xsl:if test="@depth and @depth != '0'">
          <xsl:text> OCF_CHECK_LEVEL=</xsl:text>
          <xsl:value-of select="@depth"/>
        </xsl:if>
      </xsl:for-each>
    </xsl:if>
    <xsl:text>&#10;.fi&#10;.RE&#10;</xsl:text>

    <xsl:text>.SH FILES&#10;.TP&#10;</xsl:text>
    <xsl:value-of select="$agent_dir"/>
    <xsl:text>/</xsl:text>
    <xsl:value-of select="$agent"/>
    <xsl:text>&#10;the agent&#10;.TP&#10;/usr/share/doc/resource\-agents\-warden/README.gz&#10;</xsl:text>
    <xsl:text>how warden works: deadlines, the keeper, dumps, failures and their reasons&#10;</xsl:text>
    <xsl:text>.SH SEE ALSO&#10;\fBcrm\fR(8), \fBpcs\fR(8), \fBcrm_resource\fR(8), \fBocf\-tester\fR(8)&#10;</xsl:text>
  </xsl:template>

  <xsl:template match="parameter">
    <xsl:text>.TP&#10;\fB</xsl:text>
    <xsl:value-of select="@name"/>
    <xsl:text>\fR&#10;</xsl:text>
    <xsl:call-template name="roff"><xsl:with-param name="text" select="shortdesc"/></xsl:call-template>
    <xsl:text>&#10;.IP&#10;</xsl:text>
    <xsl:call-template name="roff"><xsl:with-param name="text" select="longdesc"/></xsl:call-template>
    <xsl:text>&#10;.IP&#10;Type: \fI</xsl:text>
    <xsl:value-of select="content/@type"/>
    <xsl:text>\fR</xsl:text>
    <xsl:if test="content/option">
      <xsl:text> (</xsl:text>
      <xsl:for-each select="content/option">
        <xsl:value-of select="@value"/>
        <xsl:if test="position() != last()">, </xsl:if>
      </xsl:for-each>
      <xsl:text>)</xsl:text>
    </xsl:if>
    <xsl:text>; default: </xsl:text>
    <xsl:choose>
      <xsl:when test="content/@default != ''">
        <xsl:text>\fB</xsl:text>
        <xsl:call-template name="replace">
          <xsl:with-param name="text" select="content/@default"/>
          <xsl:with-param name="from" select="'\'"/>
          <xsl:with-param name="to" select="'\e'"/>
        </xsl:call-template>
        <xsl:text>\fR</xsl:text>
      </xsl:when>
      <xsl:otherwise>none</xsl:otherwise>
    </xsl:choose>
    <xsl:text>; </xsl:text>
    <xsl:choose>
      <xsl:when test="@required = '1'">required</xsl:when>
      <xsl:otherwise>optional</xsl:otherwise>
    </xsl:choose>
    <xsl:if test="@unique = '1'"><xsl:text>; unique</xsl:text></xsl:if>
    <xsl:text>; </xsl:text>
    <xsl:choose>
      <xsl:when test="@reloadable = '1'">reloadable (reload\-agent, no restart)</xsl:when>
      <xsl:otherwise>not reloadable (a change restarts the resource)</xsl:otherwise>
    </xsl:choose>
    <xsl:text>.&#10;</xsl:text>
  </xsl:template>
</xsl:stylesheet>
