# The reference's "Testing" section in PowerShell (pwsh 7 or Windows PowerShell 5.1),
# against a running service: TTS to a PCM file, info, STT of that file, a chunked stream.
# Usage: ./scripts/smoke.ps1 [-BaseUrl http://localhost:5000]
param([string]$BaseUrl = "http://localhost:5000")
$ErrorActionPreference = "Stop"
$base = "$BaseUrl/api/speech-realtime"
$work = Join-Path ([System.IO.Path]::GetTempPath()) ("speech-smoke-" + [guid]::NewGuid())
New-Item -ItemType Directory -Path $work | Out-Null
try {
    Write-Host "== TTS: $base/synthesize -> test-realtime.pcm"
    $body = @{
        text = "Testing Azure OpenAI Realtime API"
        voiceName = "alloy"
    } | ConvertTo-Json
    $pcm = Join-Path $work "test-realtime.pcm"
    Invoke-WebRequest -Uri "$base/synthesize" -Method POST -ContentType 'application/json' `
        -Body $body -OutFile $pcm -UseBasicParsing
    $item = Get-Item $pcm | Select-Object Name, Length
    $item | Format-Table | Out-String | Write-Host
    if ($item.Length -le 0) { throw "empty audio" }

    Write-Host "== Info: $base/info"
    Invoke-RestMethod -Uri "$base/info" -Method GET | ConvertTo-Json -Depth 5 | Write-Host

    Write-Host "== STT: $base/recognize (the audio just synthesized)"
    $audio = [Convert]::ToBase64String([System.IO.File]::ReadAllBytes($pcm))
    $result = Invoke-RestMethod -Uri "$base/recognize" -Method POST -ContentType 'application/json' `
        -Body (@{ audioData = $audio } | ConvertTo-Json)
    Write-Host "text: $($result.text)"

    Write-Host "== Streaming TTS: $base/synthesize/stream"
    Add-Type -AssemblyName System.Net.Http
    $http = New-Object System.Net.Http.HttpClient
    $request = New-Object System.Net.Http.HttpRequestMessage([System.Net.Http.HttpMethod]::Post, "$base/synthesize/stream")
    $json = @{ text = "Hello, world! This sentence arrives as a chunked stream."; voiceName = "nova" } | ConvertTo-Json
    $request.Content = New-Object System.Net.Http.StringContent($json, [System.Text.Encoding]::UTF8, "application/json")
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $response = $http.SendAsync($request, [System.Net.Http.HttpCompletionOption]::ResponseHeadersRead).Result
    if (-not $response.IsSuccessStatusCode) { throw "stream failed: $($response.StatusCode)" }
    $stream = $response.Content.ReadAsStreamAsync().Result
    $buffer = New-Object byte[] 65536
    $total = 0; $first = $null
    while (($read = $stream.Read($buffer, 0, $buffer.Length)) -gt 0) {
        if ($null -eq $first) { $first = $clock.Elapsed.TotalSeconds }
        $total += $read
    }
    Write-Host ("first byte after {0:N3} s, finished after {1:N3} s, {2} bytes, chunked: {3}" -f `
        $first, $clock.Elapsed.TotalSeconds, $total, $response.Headers.TransferEncodingChunked)
    Write-Host "smoke: OK"
}
finally {
    Remove-Item -Recurse -Force $work
}
