; VoxTray's Windows installer (Inno Setup 6), over the frozen app from packaging/voxtray.spec.
;
; Build it on Windows with `python packaging/build.py installer`, after
; `python packaging/build.py freeze`. This script holds no value of its own: the version, the
; app's identity, the mutex name and every directory come in as /D defines from
; packaging/build.py (see `python packaging/build.py iss-defines`), read from pyproject.toml
; and the app's source. Compiling it without them stops at the #error below.
;
; Per-user install (no administrator rights) in %LOCALAPPDATA%\Programs. Optional tasks: start
; at sign-in (the same HKCU Run value the app's own setting writes, so the setting shows it and
; can turn it off) and a desktop shortcut. The uninstaller keeps the user's settings, cache and
; voices unless the user says to remove them (or passes /PURGE=yes to a silent uninstall).

#ifndef AppName
  #error AppName is not defined: build with `python packaging/build.py installer`
#endif
#ifndef AppVersion
  #error AppVersion is not defined: build with `python packaging/build.py installer`
#endif
#ifndef AppNumericVersion
  #error AppNumericVersion is not defined: build with `python packaging/build.py installer`
#endif
#ifndef AppId
  #error AppId is not defined: build with `python packaging/build.py installer`
#endif
#ifndef AppPublisher
  #error AppPublisher is not defined: build with `python packaging/build.py installer`
#endif
#ifndef AppURL
  #error AppURL is not defined: build with `python packaging/build.py installer`
#endif
#ifndef AppExeName
  #error AppExeName is not defined: build with `python packaging/build.py installer`
#endif
#ifndef AppCliExeName
  #error AppCliExeName is not defined: build with `python packaging/build.py installer`
#endif
#ifndef AppMutex
  #error AppMutex is not defined: build with `python packaging/build.py installer`
#endif
#ifndef AppDataDirName
  #error AppDataDirName is not defined: build with `python packaging/build.py installer`
#endif
#ifndef RunValueName
  #error RunValueName is not defined: build with `python packaging/build.py installer`
#endif
#ifndef SourceDir
  #error SourceDir is not defined: build with `python packaging/build.py installer`
#endif
#ifndef OutputDir
  #error OutputDir is not defined: build with `python packaging/build.py installer`
#endif
#ifndef OutputBaseFilename
  #error OutputBaseFilename is not defined: build with `python packaging/build.py installer`
#endif
#ifndef LicenseFile
  #error LicenseFile is not defined: build with `python packaging/build.py installer`
#endif
#ifndef SetupIconFile
  #error SetupIconFile is not defined: build with `python packaging/build.py installer`
#endif

[Setup]
AppId={#AppId}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
AppPublisherURL={#AppURL}
AppSupportURL={#AppURL}
AppUpdatesURL={#AppURL}
VersionInfoVersion={#AppNumericVersion}
VersionInfoProductVersion={#AppVersion}
; The app's single-instance guard holds this mutex while it runs: setup and uninstall wait
; for it to be closed instead of replacing files in use.
AppMutex={#AppMutex}
; Per user: no elevation, installed under %LOCALAPPDATA%\Programs.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
LicenseFile={#LicenseFile}
SetupIconFile={#SetupIconFile}
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName}
OutputDir={#OutputDir}
OutputBaseFilename={#OutputBaseFilename}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "startup"; Description: "Start {#AppName} when I sign in"; GroupDescription: "Options:"
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExeName}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Tasks: desktopicon

[Registry]
; The value the app's "Start at login" setting reads and writes (desktop/autostart.py).
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "{#RunValueName}"; ValueData: """{app}\{#AppExeName}"""; Flags: uninsdeletevalue; Tasks: startup

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; Ask a running tray app to quit; AppMutex then makes sure it is gone before files go.
Filename: "{app}\{#AppCliExeName}"; Parameters: "quit"; Flags: runhidden skipifdoesntexist; RunOnceId: "QuitVoxTray"

[UninstallDelete]
Type: filesandordirs; Name: "{app}\_internal"

[Code]
// The settings, the audio cache and extra voices live in %LOCALAPPDATA%\<AppDataDirName>
// (platformdirs, core/paths.py). They stay unless the user asks: a reinstall or an upgrade
// finds them again.
function PurgeRequested(): Boolean;
begin
  if UninstallSilent() then
    Result := CompareText(ExpandConstant('{param:PURGE|no}'), 'yes') = 0
  else
    Result := MsgBox('Also remove your {#AppName} settings, cached speech and added voices?' + #13#10 +
      'Choose No to keep them for a later installation.', mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if (CurUninstallStep = usPostUninstall) and PurgeRequested() then
    DelTree(ExpandConstant('{localappdata}\{#AppDataDirName}'), True, True, True);
end;
